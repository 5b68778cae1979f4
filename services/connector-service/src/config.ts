import { closeSync, openSync, statSync } from "node:fs";
import {
  ConfigError,
  baseServiceEnv,
  booleanFlag,
  commaList,
  durationMs,
  parseDurationMs,
  positiveInt,
} from "@market-scraper/runtime";
import { z } from "zod";
import {
  BYBIT_DEFAULT_REST_URL,
  BYBIT_DEFAULT_WS_URLS,
  BYBIT_LINEAR_CHANNELS,
  BYBIT_OHLCV_INTERVALS,
  BYBIT_SPOT_CHANNELS,
} from "./bybit/bybit-connector.js";
import {
  HYPERLIQUID_CHANNELS,
  HYPERLIQUID_DEFAULT_REST_URL,
  HYPERLIQUID_DEFAULT_WS_URL,
  HYPERLIQUID_INTERVALS,
  type HyperliquidChannel,
} from "./hyperliquid/hyperliquid-connector.js";
import {
  BINANCE_DEFAULTS,
  BINANCE_INTERVALS,
  BINANCE_SPOT_CHANNELS,
  BINANCE_USDM_CHANNELS,
} from "./binance/binance-connector.js";

export const CONNECTOR_NAMES = [
  "hyperliquid",
  "binance",
  "binance-usdm",
  "bybit-spot",
  "bybit-linear",
  "replay",
] as const;
export type ConnectorName = (typeof CONNECTOR_NAMES)[number];

function listOf<T extends string>(allowed: readonly T[], defaults: readonly T[]) {
  return commaList(defaults).superRefine((items, ctx) => {
    const bad = items.filter((item) => !(allowed as readonly string[]).includes(item));
    if (bad.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `unknown ${bad.join(", ")}; expected some of ${allowed.join(", ")}`,
      });
    }
    if (items.length === 0)
      ctx.addIssue({ code: "custom", message: `expected some of ${allowed.join(", ")}` });
  }) as unknown as z.ZodType<T[], string | undefined>;
}

function url(protocols: readonly string[], fallback: string) {
  return z
    .string()
    .trim()
    .refine(
      (raw) => {
        try {
          const parsed = new URL(raw);
          return protocols.includes(parsed.protocol) && parsed.hostname !== "";
        } catch {
          return false;
        }
      },
      `expected a ${protocols.map((p) => p.replace(":", "://")).join(" or ")} URL`,
    )
    .default(fallback);
}

/** `i/n`: this replica takes every n-th configured symbol starting at i (0-based). */
export interface Shard {
  index: number;
  count: number;
}

const shard = z
  .string()
  .trim()
  .transform((raw, ctx): Shard => {
    const match = /^(\d+)\/(\d+)$/.exec(raw);
    const index = Number(match?.[1]);
    const count = Number(match?.[2]);
    if (match === null || !(count >= 1) || !(index < count)) {
      ctx.addIssue({ code: "custom", message: "expected i/n with 0 <= i < n, e.g. 0/3" });
      return z.NEVER;
    }
    return { index, count };
  })
  .default({ index: 0, count: 1 });

const DEFAULT_STALE: Partial<Record<HyperliquidChannel, number>> = {
  order_book: 30_000,
  ticker: 30_000,
  ohlcv: 300_000,
};

/** `order_book=30s,ticker=30s,ohlcv=5m,trade=off`: per-channel silence before a reconnect. */
const staleAfter = z
  .string()
  .transform((raw, ctx) => {
    const out: Partial<Record<HyperliquidChannel, number>> = { ...DEFAULT_STALE };
    for (const item of raw
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")) {
      const [channel, value] = item.split("=").map((s) => s.trim());
      const duration = value === "off" ? 0 : parseDurationMs(value ?? "");
      if (!(HYPERLIQUID_CHANNELS as readonly string[]).includes(channel ?? "") || duration === undefined) {
        ctx.addIssue({
          code: "custom",
          message: `expected channel=duration items (channels ${HYPERLIQUID_CHANNELS.join(", ")}; duration like 30s or off), got '${item}'`,
        });
        return z.NEVER;
      }
      if (duration === 0) delete out[channel as HyperliquidChannel];
      else out[channel as HyperliquidChannel] = duration;
    }
    return out;
  })
  .default(() => ({ ...DEFAULT_STALE }));

const replaySpeed = z
  .string()
  .trim()
  .transform((raw, ctx): { mode: "max" } | { mode: "realtime"; speed: number } => {
    if (raw === "max") return { mode: "max" };
    if (raw === "realtime") return { mode: "realtime", speed: 1 };
    const speed = Number(raw);
    if (!(speed > 0) || !Number.isFinite(speed)) {
      ctx.addIssue({ code: "custom", message: "expected realtime, max or a speed factor such as 10" });
      return z.NEVER;
    }
    return { mode: "realtime", speed };
  })
  .default({ mode: "realtime", speed: 1 });

/** Levels per side of published books: Bybit streams at most 1000. */
const bookDepth = positiveInt(20).refine((depth) => depth <= 1000, "expected at most 1000 levels");
/** Binance symbols as configured: `BTCUSDT`, `btcusdt` or `BTC-USDT` (checked against exchangeInfo at start). */
function binanceSymbols(defaults: readonly string[]) {
  return commaList(defaults).superRefine((items, ctx) => {
    const bad = items.filter((item) => !/^[A-Za-z0-9]{1,32}(-[A-Za-z0-9]{1,32})?$/.test(item));
    if (bad.length > 0)
      ctx.addIssue({
        code: "custom",
        message: `not a Binance symbol: ${bad.join(", ")}; expected names like BTCUSDT or BTC-USDT`,
      });
    if (items.length === 0) ctx.addIssue({ code: "custom", message: "expected at least one symbol" });
  });
}

/** The variables of `binance` (`BINANCE_…`) and `binance-usdm` (`BINANCE_USDM_…`). */
function binanceEnv<P extends "BINANCE" | "BINANCE_USDM">(prefix: P) {
  const kind = prefix === "BINANCE" ? "spot" : "usdm";
  const defaults = BINANCE_DEFAULTS[kind];
  const channels = kind === "spot" ? BINANCE_SPOT_CHANNELS : BINANCE_USDM_CHANNELS;
  const intervals = kind === "spot" ? BINANCE_INTERVALS : BINANCE_INTERVALS.filter((i) => i !== "1s");
  const fields = {
    SYMBOLS: binanceSymbols(["BTCUSDT", "ETHUSDT"]),
    CHANNELS: listOf(channels, [...channels]),
    OHLCV_INTERVALS: listOf(intervals, ["1m"]),
    WS_URL: url(["ws:", "wss:"], defaults.wsUrl),
    REST_URL: url(["http:", "https:"], defaults.restUrl),
    BOOK_DEPTH: positiveInt(20),
    BOOK_INTERVAL: durationMs("100ms"),
    BOOK_STALE_AFTER: durationMs("60s"),
    SNAPSHOT_LIMIT: positiveInt(1000),
    STREAMS_PER_CONNECTION: positiveInt(200),
    MAX_CONNECTION_AGE: durationMs("23.5h"),
    REST_WEIGHT_PER_MINUTE: positiveInt(defaults.restWeightPerMinute),
  };
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [`${prefix}_${k}`, v])) as {
    [K in keyof typeof fields as `${P}_${K & string}`]: (typeof fields)[K];
  };
}

/** The connector service's environment (ARCHITECTURE §6); see README for every variable. */
export const connectorEnv = baseServiceEnv(9101)
  .extend({
    CONNECTORS: listOf(CONNECTOR_NAMES, ["hyperliquid"]),
    CONNECTOR_SHARD: shard,
    HEARTBEAT_INTERVAL: durationMs("30s"),
    DEDUP_CAPACITY: positiveInt(10_000),
    CAPTURE_DIR: z.string().trim().min(1).optional(),
    HYPERLIQUID_SYMBOLS: commaList(["BTC", "ETH"]),
    HYPERLIQUID_CHANNELS: listOf(HYPERLIQUID_CHANNELS, [...HYPERLIQUID_CHANNELS]),
    HYPERLIQUID_OHLCV_INTERVALS: listOf(HYPERLIQUID_INTERVALS, ["1m"]),
    HYPERLIQUID_WS_URL: url(["ws:", "wss:"], HYPERLIQUID_DEFAULT_WS_URL),
    HYPERLIQUID_REST_URL: url(["http:", "https:"], HYPERLIQUID_DEFAULT_REST_URL),
    HYPERLIQUID_STALE_AFTER: staleAfter,
    HYPERLIQUID_CONNECTION_STALE_AFTER: durationMs("60s"),
    HYPERLIQUID_PING_INTERVAL: durationMs("20s"),
    HYPERLIQUID_MAX_CONNECTION_AGE: durationMs("24h"),
    HYPERLIQUID_ACK_TIMEOUT: durationMs("10s"),
    HYPERLIQUID_RECONNECT_INITIAL: durationMs("500ms"),
    HYPERLIQUID_RECONNECT_MAX: durationMs("30s"),
    HYPERLIQUID_REST_WEIGHT_PER_MINUTE: positiveInt(1200),
    BYBIT_SPOT_SYMBOLS: commaList(["BTCUSDT", "ETHUSDT"]),
    BYBIT_SPOT_CHANNELS: listOf(BYBIT_SPOT_CHANNELS, BYBIT_SPOT_CHANNELS),
    BYBIT_SPOT_OHLCV_INTERVALS: listOf(BYBIT_OHLCV_INTERVALS, ["1m"]),
    BYBIT_SPOT_WS_URL: url(["ws:", "wss:"], BYBIT_DEFAULT_WS_URLS.spot),
    BYBIT_SPOT_REST_URL: url(["http:", "https:"], BYBIT_DEFAULT_REST_URL),
    BYBIT_SPOT_BOOK_DEPTH: bookDepth,
    BYBIT_SPOT_BOOK_INTERVAL: durationMs("100ms"),
    BYBIT_SPOT_TOPICS_PER_CONNECTION: positiveInt(200),
    BYBIT_LINEAR_SYMBOLS: commaList(["BTCUSDT", "ETHUSDT"]),
    BYBIT_LINEAR_CHANNELS: listOf(BYBIT_LINEAR_CHANNELS, BYBIT_LINEAR_CHANNELS),
    BYBIT_LINEAR_OHLCV_INTERVALS: listOf(BYBIT_OHLCV_INTERVALS, ["1m"]),
    BYBIT_LINEAR_WS_URL: url(["ws:", "wss:"], BYBIT_DEFAULT_WS_URLS.linear),
    BYBIT_LINEAR_REST_URL: url(["http:", "https:"], BYBIT_DEFAULT_REST_URL),
    BYBIT_LINEAR_BOOK_DEPTH: bookDepth,
    BYBIT_LINEAR_BOOK_INTERVAL: durationMs("100ms"),
    BYBIT_LINEAR_TOPICS_PER_CONNECTION: positiveInt(200),
    ...binanceEnv("BINANCE"),
    ...binanceEnv("BINANCE_USDM"),
    BINANCE_USDM_OPEN_INTEREST_INTERVAL: durationMs("30s"),
    REPLAY_FILE: z.string().trim().min(1).optional(),
    REPLAY_SPEED: replaySpeed,
    REPLAY_SOURCE: z.string().trim().min(1).default("hyperliquid"),
    REPLAY_EXIT_WHEN_DONE: booleanFlag(false),
  })
  .superRefine((value, ctx) => {
    const fields = value as Record<string, unknown>;
    const connectors = fields.CONNECTORS;
    if (Array.isArray(connectors) && connectors.includes("replay") && fields.REPLAY_FILE === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["REPLAY_FILE"],
        message: "required when CONNECTORS includes replay",
      });
    }
    for (const variable of ["HYPERLIQUID_SYMBOLS", "BYBIT_SPOT_SYMBOLS", "BYBIT_LINEAR_SYMBOLS"]) {
      const symbols = fields[variable];
      if (Array.isArray(symbols) && symbols.length === 0) {
        ctx.addIssue({ code: "custom", path: [variable], message: "expected at least one symbol" });
      }
    }
  });

export type ConnectorConfig = z.output<typeof connectorEnv>;

/** The symbols of this replica: every `count`-th of the configured list, starting at `index`. */
export function shardSymbols(symbols: readonly string[], shard: Shard): string[] {
  return symbols.filter((_, i) => i % shard.count === shard.index);
}

/**
 * Why the replay file cannot be played (missing, not a file, unreadable), or undefined when it can or
 * no replay is configured. A config error like any bad variable: the parsed schema cannot see the disk.
 */
export function replayFileProblem(
  config: Pick<ConnectorConfig, "CONNECTORS" | "REPLAY_FILE">,
): string | undefined {
  const file = config.REPLAY_FILE;
  if (!config.CONNECTORS.includes("replay") || file === undefined) return undefined;
  try {
    if (!statSync(file).isFile()) return "not a file";
    closeSync(openSync(file, "r"));
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "no such file";
    if (code === "EACCES" || code === "EPERM") return "cannot read it (permission denied)";
    return `cannot read it (${code ?? String(error)})`;
  }
}

/** Throws a `ConfigError` (REPLAY_FILE) when the replay file cannot be played: `loadConfig` exits 78. */
export function assertReplayFileReadable(config: Pick<ConnectorConfig, "CONNECTORS" | "REPLAY_FILE">): void {
  const problem = replayFileProblem(config);
  if (problem !== undefined)
    throw new ConfigError([{ variable: "REPLAY_FILE", message: problem, received: config.REPLAY_FILE }]);
}

/**
 * `connectorEnv` plus the look at the disk (`replayFileProblem`): what `main` loads, so a missing or
 * unreadable `REPLAY_FILE` exits 78 with one line like any bad variable.
 */
export const connectorEnvOnDisk = connectorEnv.superRefine((value, ctx) => {
  const problem = replayFileProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["REPLAY_FILE"], message: problem });
});
