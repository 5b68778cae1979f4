import {
  baseServiceEnv,
  booleanFlag,
  commaList,
  durationMs,
  positiveInt,
  secret,
} from "@market-scraper/runtime";
import { z } from "zod";

/** One accepted API key and its own request budget per rate-limit window (null: the default). */
export interface ApiKey {
  readonly key: string;
  readonly rateLimit: number | null;
}

const KEY = /^[A-Za-z0-9._~+/=-]{8,256}$/;

/**
 * `GATEWAY_API_KEYS`: `reader-key-01,bot-key-0002:6000` — comma-separated keys, each optionally followed by `:<requests
 * per window>`. Keys are 8-256 characters of `A-Z a-z 0-9 . _ ~ + / = -`. Returns an error text or the keys.
 */
export function parseApiKeys(raw: string): ApiKey[] | string {
  const keys: ApiKey[] = [];
  const seen = new Set<string>();
  const items = raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  for (const [index, item] of items.entries()) {
    const colon = item.lastIndexOf(":");
    const key = colon === -1 ? item : item.slice(0, colon);
    const limitText = colon === -1 ? undefined : item.slice(colon + 1);
    // Never echo a key: the messages name the item by position only.
    if (!KEY.test(key)) return `key #${index + 1}: expected 8-256 characters of A-Z a-z 0-9 . _ ~ + / = -`;
    let rateLimit: number | null = null;
    if (limitText !== undefined) {
      if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || !Number.isSafeInteger(Number(limitText))) {
        return `key #${index + 1}: the rate limit after ':' must be a positive integer`;
      }
      rateLimit = Number(limitText);
    }
    if (seen.has(key)) return `key #${index + 1} is listed twice`;
    seen.add(key);
    keys.push({ key, rateLimit });
  }
  return keys;
}

const apiKeys = secret(
  z
    .string()
    .default("")
    .transform((raw, ctx): ApiKey[] => {
      const keys = parseApiKeys(raw);
      if (typeof keys === "string") {
        ctx.addIssue({ code: "custom", message: keys });
        return z.NEVER;
      }
      return keys;
    }),
);

const corsOrigins = commaList([]).superRefine((origins, ctx) => {
  for (const origin of origins) {
    if (origin === "*") continue;
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (
      url === undefined ||
      (url.protocol !== "http:" && url.protocol !== "https:") ||
      url.origin !== origin
    ) {
      ctx.addIssue({
        code: "custom",
        message: `'${origin}' is not an origin: expected * or scheme://host[:port] without a path`,
      });
    }
  }
});

/** The gateway's environment (ARCHITECTURE §6); see the README for each variable. */
export const gatewayEnv = baseServiceEnv(8080).extend({
  /** Empty: the API is open. Otherwise `Authorization: Bearer <key>` or `x-api-key: <key>` on `/v1`. */
  GATEWAY_API_KEYS: apiKeys,
  /** Requests per window and key (per client address while the API is open). */
  GATEWAY_RATE_LIMIT: positiveInt(600),
  GATEWAY_RATE_LIMIT_WINDOW: durationMs("1m"),
  /** Failed authentications (missing or wrong key) per client address and window; more: 429. */
  GATEWAY_AUTH_FAILURE_LIMIT: positiveInt(20),
  GATEWAY_AUTH_FAILURE_WINDOW: durationMs("1m"),
  /** Origins allowed to call the API from a browser; `*` for any; empty: no CORS headers. */
  GATEWAY_CORS_ORIGINS: corsOrigins,
  /** Largest request body accepted, in bytes (larger: 413). */
  GATEWAY_BODY_LIMIT: positiveInt(16_384),
  /** How long a storage query may take before the request fails with 503. */
  GATEWAY_STORAGE_TIMEOUT: durationMs("5s"),
  /** Events queued per stream client behind its socket; past this a client is cut (or conflated). */
  GATEWAY_STREAM_BUFFER: positiveInt(1_000),
  /** Bytes a stream client may have in its socket buffer before events queue up. */
  GATEWAY_STREAM_HIGH_WATER: positiveInt(262_144),
  /**
   * Bytes all stream clients together may hold (queued events and socket buffers not yet flushed); past
   * it the slowest clients are cut (close 1008) until the total is back under it. Bounds the memory.
   */
  GATEWAY_STREAM_MEMORY: positiveInt(67_108_864),
  /** Concurrent WebSocket + SSE clients per replica; more are refused with 503. */
  GATEWAY_STREAM_MAX_CLIENTS: positiveInt(10_000),
  /** Concurrent WebSocket + SSE clients per client address; more are refused with 429. */
  GATEWAY_STREAM_MAX_PER_ADDRESS: positiveInt(2_000),
  /** Subscriptions one WebSocket may hold. */
  GATEWAY_WS_MAX_SUBSCRIPTIONS: positiveInt(32),
  /** Largest WebSocket message accepted from a client, in bytes (larger: close 1009). */
  GATEWAY_WS_MAX_MESSAGE: positiveInt(16_384),
  /** WebSocket ping / SSE keep-alive comment interval; a WebSocket silent for two is dropped. */
  GATEWAY_STREAM_HEARTBEAT: durationMs("30s"),
  /** How long a closing stream may take to flush its last frames before its socket is destroyed. */
  GATEWAY_STREAM_CLOSE_GRACE: durationMs("5s"),
  /** Trust `X-Forwarded-For` (behind an ingress): client addresses for rate limits come from it. */
  GATEWAY_TRUST_PROXY: booleanFlag(false),
});

export type GatewayConfig = z.output<typeof gatewayEnv>;
