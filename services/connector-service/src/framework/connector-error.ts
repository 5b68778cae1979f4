import { MarketScraperError } from "@market-scraper/events";

/**
 * The closed set of error codes a connector reports (as `error` events and thrown errors):
 * - `RATE_LIMIT`: the exchange answered 429;
 * - `PARSE_ERROR`: a frame or answer that is not what the exchange documents (counted, skipped);
 * - `DISCONNECTED`: the connection dropped (it is re-established);
 * - `STALE`: no data for longer than allowed (the connection is replaced);
 * - `SUBSCRIBE_FAILED`: a subscription was refused or not acknowledged in time;
 * - `EXCHANGE_ERROR`: the exchange sent an error frame;
 * - `UNEXPECTED_FRAME`: a frame of a kind the exchange never sends (binary), dropped (counted);
 * - `INVALID_SYMBOL`: a configured symbol the exchange does not list (not subscribed);
 * - `REST_FAILED`: a REST request failed after its retries;
 * - `BACKFILL_FAILED`: missed candles could not be fetched;
 * - `BOOK_RESYNC`: an order book was dropped and is rebuilt from a fresh snapshot (`details.reason`: gap,
 *   checksum, crossed, stale, reconnect, snapshot_failed, invalid); nothing is published for it meanwhile.
 */
export type ConnectorErrorCode =
  | "RATE_LIMIT"
  | "PARSE_ERROR"
  | "DISCONNECTED"
  | "STALE"
  | "SUBSCRIBE_FAILED"
  | "EXCHANGE_ERROR"
  | "UNEXPECTED_FRAME"
  | "INVALID_SYMBOL"
  | "REST_FAILED"
  | "BACKFILL_FAILED"
  | "BOOK_RESYNC";

export class ConnectorError extends MarketScraperError<ConnectorErrorCode> {
  override readonly name = "ConnectorError";
}

/**
 * An error's message followed by its causes, e.g. `fetch failed: getaddrinfo ENOTFOUND api.hyperliquid.xyz`
 * or `fetch failed: connect ECONNREFUSED 127.0.0.1:9`: `fetch` says only "fetch failed" and keeps the
 * reason (DNS, refused, TLS, timeout) in `cause`, sometimes as an `AggregateError` (one per address).
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    const text =
      current instanceof AggregateError && current.errors.length > 0
        ? [...new Set(current.errors.map((e: unknown) => describeError(e)))].join("; ")
        : current instanceof Error
          ? current.message || current.name
          : typeof current === "string"
            ? current
            : (JSON.stringify(current) ?? "");
    const code = errorCode(current, false);
    const part = code !== undefined && !text.includes(code) ? `${text} (${code})` : text;
    if (part !== "" && !parts.includes(part)) parts.push(part);
    if (current instanceof AggregateError) break;
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}

/** The first system or library error code in an error or its causes (`ECONNREFUSED`, `ENOTFOUND`, …). */
export function errorCode(error: unknown, deep = true): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    if (!deep) return undefined;
    if (current instanceof AggregateError && current.errors.length > 0) return errorCode(current.errors[0]);
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}
