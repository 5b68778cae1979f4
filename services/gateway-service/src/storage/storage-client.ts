import type {
  CandlesQueryInput,
  EventPage,
  EventsQueryInput,
  LatestQuery,
  LatestReply,
  MarketsQuery,
  MarketsReply,
  StatsReply,
} from "@market-scraper/events";

/**
 * The storage service's query API (`storage.*`, ARCHITECTURE §6/§7) as the gateway uses it. The NATS
 * implementation is `NatsStorageClient`; `standalone` can pass an in-process one over the same store.
 * Every method rejects with a `StorageClientError`.
 */
export interface StorageClient {
  events(query: EventsQueryInput): Promise<EventPage>;
  latest(query: LatestQuery): Promise<LatestReply>;
  candles(query: CandlesQueryInput): Promise<EventPage>;
  markets(query: MarketsQuery): Promise<MarketsReply>;
  stats(): Promise<StatsReply>;
}

/**
 * `BAD_REQUEST`, `NOT_FOUND`, `UNAVAILABLE`, `INTERNAL`: the storage service answered with that error.
 * `TIMEOUT`: no answer in time. `NO_RESPONDERS`: no storage replica is listening. `BAD_REPLY`: the answer
 * did not match the schema. `DISCONNECTED`: the gateway has no NATS connection.
 */
export type StorageClientErrorCode =
  | "BAD_REQUEST"
  | "NOT_FOUND"
  | "UNAVAILABLE"
  | "INTERNAL"
  | "TIMEOUT"
  | "NO_RESPONDERS"
  | "BAD_REPLY"
  | "DISCONNECTED";

export class StorageClientError extends Error {
  override readonly name = "StorageClientError";
  readonly code: StorageClientErrorCode;

  constructor(code: StorageClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
