import { type ConnectorConfig, connectorEnv } from "@market-scraper/connector-service";
import { type GatewayConfig, gatewayEnv } from "@market-scraper/gateway-service";
import { type ProcessorConfig, processorEnv } from "@market-scraper/processor-service";
import { ConfigError, type ConfigIssue, type Env, parseEnv } from "@market-scraper/runtime";
import { type StorageConfig, storageEnv } from "@market-scraper/storage-service";
import { z } from "zod";

export const EVENT_BUS_KINDS = ["memory", "nats"] as const;
export type EventBusKind = (typeof EVENT_BUS_KINDS)[number];

/** The variables standalone adds to those of the four services. */
export const standaloneOwnEnv = z.object({
  /** `memory` (one process, nothing else needed) or `nats` (NATS_URL, JetStream). */
  EVENT_BUS: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(EVENT_BUS_KINDS, { error: `expected ${EVENT_BUS_KINDS.join(" or ")}` }))
    .default("memory"),
});

/** The schemas standalone reads, each service's own: one environment configures all of them alike. */
export const SERVICE_ENV_SCHEMAS = {
  connector: connectorEnv,
  processor: processorEnv,
  storage: storageEnv,
  gateway: gatewayEnv,
} as const;

/**
 * Where standalone's defaults differ from (or pin down) the services' own. `HTTP_PORT` is the gateway's
 * one port (API, page, `/healthz`, `/readyz`, `/metrics`).
 */
export const STANDALONE_DEFAULTS: Readonly<Record<string, string>> = {
  EVENT_BUS: "memory",
  DATABASE_URL: "sqlite:./data/market-scraper.db",
  HTTP_PORT: "8080",
  CONNECTORS: "hyperliquid",
  HYPERLIQUID_SYMBOLS: "BTC,ETH",
};

/** Every variable standalone reads, in the order: its own, connector, processor, storage, gateway. */
export function standaloneVariables(): string[] {
  const names = new Set<string>(Object.keys(standaloneOwnEnv.shape));
  for (const schema of Object.values(SERVICE_ENV_SCHEMAS)) {
    for (const key of Object.keys(schema.shape)) names.add(key);
  }
  return [...names];
}

export interface StandaloneConfig {
  readonly EVENT_BUS: EventBusKind;
  readonly LOG_LEVEL: GatewayConfig["LOG_LEVEL"];
  /** The parsed environment as each service sees it (its own schema, its own defaults and rules). */
  readonly connector: ConnectorConfig;
  readonly processor: ProcessorConfig;
  readonly storage: StorageConfig;
  readonly gateway: GatewayConfig;
}

const isSet = (value: string | undefined): value is string => value !== undefined && value.trim() !== "";

/**
 * The environment with standalone's defaults filled in. `REPLAY_FILE` alone (without `CONNECTORS`) means
 * "replay this capture instead of connecting": `CONNECTORS=replay`.
 */
export function withStandaloneDefaults(env: Env): Env {
  const out: Record<string, string | undefined> = { ...env };
  for (const [key, value] of Object.entries(STANDALONE_DEFAULTS)) {
    if (!isSet(out[key])) out[key] = value;
  }
  if (isSet(env.REPLAY_FILE) && !isSet(env.CONNECTORS)) out.CONNECTORS = "replay";
  return out;
}

/**
 * Parses the environment with standalone's schema and each service's, reporting every bad variable once
 * (a `ConfigError` with one issue per variable, as `parseEnv` does for one service).
 */
export function parseStandaloneEnv(env: Env): StandaloneConfig {
  const input = withStandaloneDefaults(env);
  const issues = new Map<string, ConfigIssue>();
  const parse = <S extends z.ZodObject>(schema: S): z.output<S> | undefined => {
    try {
      return parseEnv(schema, input);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const issue of error.issues) if (!issues.has(issue.variable)) issues.set(issue.variable, issue);
      return undefined;
    }
  };
  const own = parse(standaloneOwnEnv);
  const connector = parse(connectorEnv);
  const processor = parse(processorEnv);
  const storage = parse(storageEnv);
  const gateway = parse(gatewayEnv);
  if (
    issues.size > 0 ||
    own === undefined ||
    connector === undefined ||
    processor === undefined ||
    storage === undefined ||
    gateway === undefined
  ) {
    const order = standaloneVariables();
    const rank = (v: string) => (order.includes(v) ? order.indexOf(v) : order.length);
    throw new ConfigError([...issues.values()].sort((a, b) => rank(a.variable) - rank(b.variable)));
  }
  return { EVENT_BUS: own.EVENT_BUS, LOG_LEVEL: gateway.LOG_LEVEL, connector, processor, storage, gateway };
}
