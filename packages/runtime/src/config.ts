import { accessSync, constants, statSync } from "node:fs";
import { STREAMS, type StreamName } from "@market-scraper/bus";
import { z } from "zod";
import { ConfigError, formatConfigIssue, type ConfigIssue } from "./config-error.js";
import { redactSecrets } from "./redact.js";

/** The environment as `process.env` holds it. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Exit code for a configuration error (`EX_CONFIG` from sysexits.h). */
export const CONFIG_ERROR_EXIT_CODE = 78;

const REDACTED = "[redacted]";
const secretSchemas = new WeakSet<z.ZodType>();

/** Marks a field whose value must never be printed (its `received` is redacted in errors). */
export function secret<T extends z.ZodType>(schema: T): T {
  secretSchemas.add(schema);
  return schema;
}

/**
 * Parses the variables named by `schema` from `env`. Unknown variables are ignored; an empty or
 * whitespace-only value counts as unset (so `FOO=` in a manifest falls back to the default).
 * Throws `ConfigError` with one issue per bad variable.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Env = process.env): z.output<S> {
  const keys = Object.keys(schema.shape);
  const input: Record<string, string> = {};
  for (const key of keys) {
    const value = env[key];
    if (value !== undefined && value.trim() !== "") input[key] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;

  const messages = new Map<string, string[]>();
  for (const issue of result.error.issues) {
    const head = issue.path[0];
    const variable = head === undefined ? "(environment)" : String(head);
    const message =
      issue.code === "invalid_type" && input[variable] === undefined ? "required" : issue.message;
    const list = messages.get(variable) ?? [];
    if (!list.includes(message)) list.push(message);
    messages.set(variable, list);
  }
  const order = (variable: string): number => {
    const index = keys.indexOf(variable);
    return index === -1 ? keys.length : index;
  };
  const issues: ConfigIssue[] = [...messages.entries()]
    .sort(([a], [b]) => order(a) - order(b))
    .map(([variable, list]) => {
      const field: unknown = schema.shape[variable];
      const isSecret = field instanceof z.ZodType && secretSchemas.has(field);
      const raw = input[variable];
      // Any value may hold a URL with credentials (`postgres://u:pw@h`): its password never goes out.
      const received = raw === undefined ? undefined : isSecret ? REDACTED : redactSecrets(raw);
      return { variable, message: list.join("; "), received };
    });
  throw new ConfigError(issues, { cause: result.error });
}

/**
 * For `main.ts`: `parseEnv`, or on a `ConfigError` one line per bad variable on stderr and exit 78.
 * Other errors are rethrown.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: Env = process.env): z.output<S> {
  try {
    return parseEnv(schema, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(error.issues.map((issue) => `config error: ${formatConfigIssue(issue)}\n`).join(""));
    return process.exit(CONFIG_ERROR_EXIT_CODE);
  }
}

/** A string variable turned into `T` by `parse`; `undefined` from `parse` reports `expected`. */
function envValue<T>(expected: string, parse: (raw: string) => T | undefined) {
  return z.string().transform((raw, ctx): T => {
    const value = parse(raw.trim());
    if (value === undefined) {
      ctx.addIssue({ code: "custom", message: expected });
      return z.NEVER;
    }
    return value;
  });
}

function splitList(raw: string): string[] {
  return raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/** `a, b,,c` → `["a", "b", "c"]`: items trimmed, empty items dropped. */
export function commaList(defaultValue: readonly string[] = []) {
  return z
    .string()
    .transform(splitList)
    .default(() => [...defaultValue]);
}

const INTEGER = /^\d+$/;

/** A TCP port, 1-65535. */
export function port(defaultPort: number) {
  return envValue("expected an integer port 1-65535", (raw) => {
    if (!INTEGER.test(raw)) return undefined;
    const value = Number(raw);
    return value >= 1 && value <= 65_535 ? value : undefined;
  }).default(defaultPort);
}

/** An integer ≥ 1. */
export function positiveInt(defaultValue: number) {
  return envValue("expected a positive integer", (raw) => {
    if (!INTEGER.test(raw)) return undefined;
    const value = Number(raw);
    return Number.isSafeInteger(value) && value >= 1 ? value : undefined;
  }).default(defaultValue);
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses `250ms`, `5s`, `1.5s`, `2m`, `1h`, `7d` or plain integer milliseconds; `undefined` if invalid. */
export function parseDurationMs(raw: string): number | undefined {
  const text = raw.trim();
  if (INTEGER.test(text)) {
    const value = Number(text);
    return Number.isSafeInteger(value) ? value : undefined;
  }
  const match = DURATION.exec(text);
  if (match === null) return undefined;
  const [, amount, unit] = match;
  if (amount === undefined || unit === undefined) return undefined;
  const value = Math.round(Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS]);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A duration in milliseconds from `250ms`, `5s`, `2m`, `1h`, `7d` or plain integer ms. */
export function durationMs(defaultValue: number | string) {
  const fallback = typeof defaultValue === "number" ? defaultValue : parseDurationMs(defaultValue);
  if (fallback === undefined)
    throw new TypeError(`durationMs: invalid default ${JSON.stringify(defaultValue)}`);
  return envValue(
    "expected a duration like 250ms, 5s, 2m, 1h, 7d or integer milliseconds",
    parseDurationMs,
  ).default(fallback);
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

/** `true/false/1/0/yes/no/on/off`, case-insensitive. */
export function booleanFlag(defaultValue: boolean) {
  return envValue("expected true/false, 1/0 or yes/no", (raw) => {
    const word = raw.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    return undefined;
  }).default(defaultValue);
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** A pino level name (case-insensitive), default `info`. */
export const logLevel = envValue(`expected one of ${LOG_LEVELS.join(", ")}`, (raw) => {
  const level = raw.toLowerCase();
  return isLogLevel(level) ? level : undefined;
}).default("info");

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";
const NATS_SCHEMES = new Set(["nats:", "tls:", "ws:", "wss:"]);
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s/:[\]@]+)(:\d{1,5})?$/;

function parseServers(raw: string): string[] | undefined {
  const servers = splitList(raw);
  if (servers.length === 0) return undefined;
  for (const server of servers) {
    if (server.includes("://")) {
      let url: URL;
      try {
        url = new URL(server);
      } catch {
        return undefined;
      }
      if (!NATS_SCHEMES.has(url.protocol) || url.hostname === "") return undefined;
    } else if (!HOST_PORT.test(server)) {
      return undefined;
    }
  }
  return servers;
}

function readableFileProblem(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return "expected a NATS credentials file, but the path is not a file";
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "expected a NATS credentials file, but it does not exist";
    if (code === "EACCES") return "expected a NATS credentials file, but it is not readable";
    return `expected a readable NATS credentials file (${code ?? "unreadable"})`;
  }
}

const INBOX_PREFIX = /^[\w-]+(\.[\w-]+)*$/;

function parseStreamNames(raw: string): StreamName[] | undefined {
  if (raw.toLowerCase() === "none") return [];
  const names = splitList(raw);
  if (names.length === 0 || !names.every((n): n is StreamName => Object.hasOwn(STREAMS, n))) return undefined;
  return [...new Set(names)];
}

const AUTH_METHODS = [
  { label: "NATS_USER+NATS_PASSWORD", variables: ["NATS_USER", "NATS_PASSWORD"] },
  { label: "NATS_TOKEN", variables: ["NATS_TOKEN"] },
  { label: "NATS_CREDS", variables: ["NATS_CREDS"] },
] as const;

/**
 * The NATS connection variables. `NATS_URL`: comma-separated servers (default `nats://127.0.0.1:4222`).
 * Auth, at most one of: `NATS_USER`+`NATS_PASSWORD` (both or neither), `NATS_TOKEN`, `NATS_CREDS`
 * (path to a readable `.creds` file).
 */
export const natsEnv = z
  .object({
    NATS_URL: envValue(
      "expected comma-separated NATS server URLs like nats://127.0.0.1:4222",
      parseServers,
    ).default(() => [DEFAULT_NATS_URL]),
    NATS_USER: z.string().optional(),
    NATS_PASSWORD: secret(z.string().optional()),
    NATS_TOKEN: secret(z.string().optional()),
    NATS_CREDS: z
      .string()
      .transform((path, ctx) => {
        const problem = readableFileProblem(path);
        if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
        return path;
      })
      .optional(),
    /** Replicas of the JetStream streams the services create (3 in a 3-node cluster). */
    NATS_STREAM_REPLICAS: z.coerce
      .number({ error: "expected an integer from 1 to 5" })
      .int("expected an integer from 1 to 5")
      .min(1, "expected an integer from 1 to 5")
      .max(5, "expected an integer from 1 to 5")
      .default(1),
    /**
     * Prefix of the connection's reply inboxes (nats.js `inboxPrefix`): request replies, JetStream pull
     * and publish-ack inboxes. Under NATS auth each service has its own and may subscribe only there.
     */
    NATS_INBOX_PREFIX: envValue(
      "expected a subject prefix like _INBOX_storage (tokens of letters, digits, _ or -, joined by dots)",
      (raw) => (INBOX_PREFIX.test(raw) ? raw : undefined),
    ).optional(),
    /**
     * The JetStream streams this service creates (and brings up to date) at start: a comma list of
     * MARKET, PROCESSED, SYSTEM, or `none`. Under NATS auth each stream has one owner (deploy/README.md).
     */
    NATS_STREAMS: envValue(
      `expected a comma list of ${Object.keys(STREAMS).join(", ")}, or none`,
      parseStreamNames,
    ).default(() => Object.keys(STREAMS) as StreamName[]),
  })
  .superRefine(
    (value, ctx) => {
      // Runs even when single fields failed (`when`), so every problem is reported in one go.
      const fields = value as Record<string, unknown>;
      const isSet = (key: string): boolean => typeof fields[key] === "string";
      if (isSet("NATS_USER") !== isSet("NATS_PASSWORD")) {
        const [missing, present] = isSet("NATS_USER")
          ? ["NATS_PASSWORD", "NATS_USER"]
          : ["NATS_USER", "NATS_PASSWORD"];
        ctx.addIssue({ code: "custom", path: [missing], message: `required when ${present} is set` });
      }
      const used = AUTH_METHODS.filter((method) => method.variables.some(isSet));
      if (used.length > 1) {
        for (const method of used) {
          const others = used.filter((other) => other !== method).map((other) => other.label);
          const variable = method.variables.find(isSet) ?? method.label;
          ctx.addIssue({
            code: "custom",
            path: [variable],
            message: `set at most one NATS auth method (NATS_USER+NATS_PASSWORD, NATS_TOKEN or NATS_CREDS), but ${others.join(" and ")} ${others.length === 1 ? "is" : "are"} set too`,
          });
        }
      }
    },
    { when: () => true },
  );

export type NatsEnv = z.output<typeof natsEnv>;

/** `LOG_LEVEL`, `HTTP_PORT` (default `defaultHttpPort`) and the NATS variables; services `.extend()` it. */
export function baseServiceEnv(defaultHttpPort: number) {
  return natsEnv.extend({
    LOG_LEVEL: logLevel,
    HTTP_PORT: port(defaultHttpPort),
  });
}

export type BaseServiceEnv = z.output<ReturnType<typeof baseServiceEnv>>;
