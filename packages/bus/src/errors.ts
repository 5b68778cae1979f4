import { MarketScraperError } from "@market-scraper/events";

export { errorMessage } from "@market-scraper/events";

export type BusErrorCode =
  | "BUS_CLOSED"
  | "QUEUE_FULL"
  | "INVALID_FILTER"
  | "INVALID_SUBJECT"
  | "PUBLISH_FAILED"
  /** The NATS connection dropped under a request: no answer can come (see `NatsLink.guard`). */
  | "DISCONNECTED";

/** An error raised by an `EventBus`; `code` is from a closed set. */
export class BusError extends MarketScraperError<BusErrorCode> {
  override readonly name = "BusError";
}
