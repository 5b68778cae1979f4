import { z } from "zod";
import { EVENT_TYPES, type EventType } from "./event-type.js";
import { Interval, IsoTimestamp } from "./payloads.js";
import { StandardEventSchema } from "./standard-event.js";
import { STAGES, type Stage } from "./subjects.js";

/**
 * The storage service's query API (ARCHITECTURE §6, §7): NATS micro service endpoints under `storage.`,
 * request/reply, JSON validated with these schemas on both sides. Requests are strict: an unknown field
 * is a `BAD_REQUEST`, so typos do not silently widen a query.
 */
export const STORAGE_SUBJECTS = {
  events: "storage.events",
  latest: "storage.latest",
  candles: "storage.candles",
  markets: "storage.markets",
  stats: "storage.stats",
} as const;

/** Hard cap on one page; larger `limit`s are a `BAD_REQUEST`. */
export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 100;

const eventTypeSchema = z.enum(EVENT_TYPES as [EventType, ...EventType[]]);
/** The first subject token the event was stored from (`market`, `processed`, `system`, `custom`). */
const stageSchema = z.enum(STAGES as [Stage, ...Stage[]]);
const limit = z.number().int().min(1).max(MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT);
/** Opaque, produced by the previous page's `next_cursor`. */
const cursor = z.string().min(1).max(512);

const timeRange = {
  /** Inclusive. */
  start: IsoTimestamp.optional(),
  /** Exclusive. */
  end: IsoTimestamp.optional(),
};

export const EventsQuery = z.strictObject({
  stage: stageSchema.optional(),
  event_type: eventTypeSchema.optional(),
  source: z.string().min(1).optional(),
  symbol: z.string().min(1).optional(),
  ...timeRange,
  limit,
  cursor: cursor.optional(),
  /** `asc` (oldest first, default) or `desc`. */
  order: z.enum(["asc", "desc"]).default("asc"),
});
export type EventsQuery = z.infer<typeof EventsQuery>;
export type EventsQueryInput = z.input<typeof EventsQuery>;

export const LatestQuery = z.strictObject({
  stage: stageSchema.optional(),
  event_type: eventTypeSchema,
  source: z.string().min(1).optional(),
  symbol: z.string().min(1).optional(),
});
export type LatestQuery = z.infer<typeof LatestQuery>;

export const CandlesQuery = z.strictObject({
  symbol: z.string().min(1),
  interval: Interval,
  /** `processed` (default): the processor's exact candles; `market`: the exchange's own candles. */
  stage: z.enum(["market", "processed"]).default("processed"),
  source: z.string().min(1).optional(),
  ...timeRange,
  limit,
  cursor: cursor.optional(),
});
export type CandlesQuery = z.infer<typeof CandlesQuery>;
export type CandlesQueryInput = z.input<typeof CandlesQuery>;

export const MarketsQuery = z.strictObject({ source: z.string().min(1).optional() });
export type MarketsQuery = z.infer<typeof MarketsQuery>;

export const StatsQuery = z.strictObject({});

/** A page of events; `next_cursor` is null on the last page. */
export const EventPage = z.object({ data: z.array(StandardEventSchema), next_cursor: z.string().nullable() });
export type EventPage = z.infer<typeof EventPage>;

export const LatestReply = z.object({ data: z.array(StandardEventSchema) });
export type LatestReply = z.infer<typeof LatestReply>;

export const Market = z.object({
  source: z.string(),
  symbol: z.string(),
  event_types: z.array(eventTypeSchema),
  first_timestamp: IsoTimestamp,
  last_timestamp: IsoTimestamp,
});
export const MarketsReply = z.object({ data: z.array(Market) });
export type MarketsReply = z.infer<typeof MarketsReply>;

export const StatsReply = z.object({
  total_events: z.number().int().nonnegative(),
  by_type: z.record(z.string(), z.number().int().nonnegative()),
  oldest_timestamp: IsoTimestamp.nullable(),
  newest_timestamp: IsoTimestamp.nullable(),
  /** Messages the storage consumer has not processed yet (JetStream `num_pending`), when known. */
  consumer_lag: z.number().int().nonnegative().nullable(),
});
export type StatsReply = z.infer<typeof StatsReply>;

export const StorageErrorCode = z.enum(["BAD_REQUEST", "NOT_FOUND", "UNAVAILABLE", "INTERNAL"]);
export type StorageErrorCode = z.infer<typeof StorageErrorCode>;

/** Every failed request is answered with this body (and the micro API's error headers). */
export const StorageErrorReply = z.object({
  error: z.object({ code: StorageErrorCode, message: z.string() }),
});
export type StorageErrorReply = z.infer<typeof StorageErrorReply>;
