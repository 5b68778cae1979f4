import { MarketScraperError } from "@market-scraper/events";

/** The closed set of runtime error codes (configuration errors are `ConfigError`). */
export type RuntimeErrorCode =
  "HTTP_LISTEN_FAILED" | "NATS_CREDS_UNREADABLE" | "NATS_CONNECT_FAILED" | "MICRO_SERVICE_FAILED";

/** An I/O failure of the runtime's own machinery, with the underlying error as `cause`. */
export class RuntimeError extends MarketScraperError<RuntimeErrorCode> {
  override readonly name = "RuntimeError";
}
