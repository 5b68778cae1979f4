import { MarketScraperError } from "@market-scraper/events";

export type ProcessorErrorCode = "NO_BUS" | "INVALID_OPTION" | "CORRUPT_CHECKPOINT";

/**
 * A misuse of the Processor API (`start()` without a bus, an invalid option), or a saved checkpoint that
 * cannot be restored (`CORRUPT_CHECKPOINT`: reported, and the key starts clean). A checkpoint cut short by a
 * dropped NATS connection fails with the bus's `BusError` `DISCONNECTED` (`NatsLink.guard`).
 */
export class ProcessorError extends MarketScraperError<ProcessorErrorCode> {
  override readonly name = "ProcessorError";
}
