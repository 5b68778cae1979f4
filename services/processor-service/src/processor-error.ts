import { MarketScraperError } from "@market-scraper/events";

export type ProcessorErrorCode = "NO_BUS" | "INVALID_OPTION" | "NATS_DISCONNECTED" | "CORRUPT_CHECKPOINT";

/**
 * A misuse of the Processor API (`start()` without a bus, an invalid option), or a checkpoint cut short
 * because the NATS connection dropped under it (`NATS_DISCONNECTED`: its requests can no longer be answered),
 * or a saved checkpoint that cannot be restored (`CORRUPT_CHECKPOINT`: reported, and the key starts clean).
 */
export class ProcessorError extends MarketScraperError<ProcessorErrorCode> {
  override readonly name = "ProcessorError";
}
