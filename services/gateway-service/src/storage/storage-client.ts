import {
  MarketScraperError,
  type CandlesQueryInput,
  EventPage,
  type EventsQueryInput,
  type LatestQuery,
  LatestReply,
  type MarketsQuery,
  MarketsReply,
  type STORAGE_SUBJECTS,
  StatsReply,
} from "@market-scraper/events";
import type { z } from "zod";

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

export class StorageClientError extends MarketScraperError<StorageClientErrorCode> {
  override readonly name = "StorageClientError";
}

export type StorageEndpoint = keyof typeof STORAGE_SUBJECTS;

/** The five queries, each one validated call of `query`: a transport only says how to run one. */
export abstract class EndpointStorageClient implements StorageClient {
  events(query: EventsQueryInput): Promise<EventPage> {
    return this.query("events", query, EventPage);
  }

  latest(query: LatestQuery): Promise<LatestReply> {
    return this.query("latest", query, LatestReply);
  }

  candles(query: CandlesQueryInput): Promise<EventPage> {
    return this.query("candles", query, EventPage);
  }

  markets(query: MarketsQuery): Promise<MarketsReply> {
    return this.query("markets", query, MarketsReply);
  }

  stats(): Promise<StatsReply> {
    return this.query("stats", {}, StatsReply);
  }

  /** Runs one query and validates its reply with `schema`; failures are `StorageClientError`s. */
  protected abstract query<S extends z.ZodType>(
    endpoint: StorageEndpoint,
    request: unknown,
    schema: S,
  ): Promise<z.output<S>>;
}
