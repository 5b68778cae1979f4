import { z } from "zod";
import { EventValidationError } from "./errors.js";
import { EVENT_TYPES, EventType } from "./event-type.js";
import { createTradeFastPath } from "./fast-parse.js";
import { IsoTimestamp, PayloadSchemas, TradePayload, type PayloadInput } from "./payloads.js";
import { uuidv7 } from "./uuid.js";

export const DEFAULT_PRIORITY = 5;
export const ERROR_PRIORITY = 1;

/**
 * Envelope fields shared by every event. Optional fields stay absent when a message omits them, so
 * `parse` followed by `JSON.stringify` gives back the message unchanged.
 */
const envelope = {
  event_id: z.guid().describe("UUID, unique per event (v7: time-ordered)"),
  timestamp: IsoTimestamp.describe("when the event occurred (exchange time for market data)"),
  source: z.string().min(1).max(128).describe("origin: connector name, or service name for system events"),
  correlation_id: z.string().min(1).nullable().optional().describe("links related events"),
  parent_event_id: z.string().min(1).nullable().optional().describe("the event this one was derived from"),
  priority: z.number().int().min(1).max(10).optional().describe("1-10, lower is more urgent; default 5"),
  processed_at: IsoTimestamp.nullable().optional().describe("set by markProcessed"),
  processing_time_ms: z
    .number()
    .nullable()
    .optional()
    .describe("set by markProcessed: processed_at - timestamp in ms"),
};

function variant<T extends EventType>(type: T) {
  return z.looseObject({ ...envelope, event_type: z.literal(type), payload: PayloadSchemas[type] });
}

export const EventSchemas = {
  [EventType.TRADE]: variant(EventType.TRADE),
  [EventType.TICKER]: variant(EventType.TICKER),
  [EventType.ORDER_BOOK]: variant(EventType.ORDER_BOOK),
  [EventType.OHLCV]: variant(EventType.OHLCV),
  [EventType.CONNECTOR_STATUS]: variant(EventType.CONNECTOR_STATUS),
  [EventType.HEARTBEAT]: variant(EventType.HEARTBEAT),
  [EventType.ERROR]: variant(EventType.ERROR),
  [EventType.CUSTOM]: variant(EventType.CUSTOM),
} as const;

function patternOf(schema: { _zod: { def: { pattern?: RegExp | undefined } } }): RegExp {
  const pattern = schema._zod.def.pattern;
  if (pattern === undefined) throw new Error("expected a string format schema with a pattern");
  return pattern;
}

/** Trade events (most of the traffic) without zod when they are certainly valid: see fast-parse.ts. */
export const parseTradeFast = createTradeFastPath({
  eventKeys: Object.keys(EventSchemas[EventType.TRADE].shape),
  payloadKeys: Object.keys(TradePayload.shape),
  isoPattern: patternOf(IsoTimestamp),
  guidPattern: patternOf(EventSchemas[EventType.TRADE].shape.event_id),
});

/** The whole wire format: one schema, discriminated by `event_type`. */
export const StandardEventSchema = z.discriminatedUnion(
  "event_type",
  EVENT_TYPES.map((t) => EventSchemas[t]) as unknown as [
    (typeof EventSchemas)[EventType],
    ...(typeof EventSchemas)[EventType][],
  ],
);

type EnvelopeOf<T extends EventType> = z.infer<(typeof EventSchemas)[T]>;

/** A `StandardEvent`, narrowed by its `event_type`. */
export type StandardEvent<T extends EventType = EventType> = { [K in T]: EnvelopeOf<K> }[T];

export type TradeEvent = StandardEvent<"trade">;
export type TickerEvent = StandardEvent<"ticker">;
export type OrderBookEvent = StandardEvent<"order_book">;
export type OhlcvEvent = StandardEvent<"ohlcv">;
export type ErrorEvent = StandardEvent<"error">;
export type ConnectorStatusEvent = StandardEvent<"connector_status">;
export type HeartbeatEvent = StandardEvent<"heartbeat">;
export type CustomEvent = StandardEvent<"custom">;

export interface CreateEventInit<T extends EventType> {
  event_type: T;
  source: string;
  payload: PayloadInput<T>;
  /** Defaults to `payload.timestamp` when the payload has one, else now. */
  timestamp?: string | Date;
  event_id?: string;
  /** Defaults to a new UUID, as in the original framework. */
  correlation_id?: string | null;
  parent_event_id?: string | null;
  /** Defaults to 5, and to 1 for `error` events. */
  priority?: number;
}

export interface Clock {
  now(): number;
}

const systemClock: Clock = { now: () => Date.now() };

function toIso(value: string | Date): string {
  return typeof value === "string" ? value : value.toISOString();
}

/** Builds a validated event, filling ids, timestamp and priority. Throws `EventValidationError`. */
function create<T extends EventType>(init: CreateEventInit<T>, clock: Clock = systemClock): StandardEvent<T> {
  const nowMs = clock.now();
  const payloadTime = (init.payload as { timestamp?: unknown }).timestamp;
  const timestamp =
    init.timestamp !== undefined
      ? toIso(init.timestamp)
      : typeof payloadTime === "string"
        ? payloadTime
        : new Date(nowMs).toISOString();
  const candidate = {
    event_id: init.event_id ?? uuidv7(nowMs),
    event_type: init.event_type,
    timestamp,
    source: init.source,
    payload: init.payload,
    correlation_id: init.correlation_id === undefined ? uuidv7(nowMs) : init.correlation_id,
    parent_event_id: init.parent_event_id ?? null,
    priority: init.priority ?? (init.event_type === EventType.ERROR ? ERROR_PRIORITY : DEFAULT_PRIORITY),
    processed_at: null,
    processing_time_ms: null,
  };
  return parse(candidate) as StandardEvent<T>;
}

/** Validates an already-decoded value. Throws `EventValidationError` naming each bad field. */
function parse(value: unknown): StandardEvent {
  const fast = parseTradeFast(value);
  if (fast !== undefined) return fast as StandardEvent;
  const result = StandardEventSchema.safeParse(value);
  if (!result.success) throw EventValidationError.fromZod(result.error);
  return result.data;
}

export type SafeParseResult =
  { success: true; event: StandardEvent } | { success: false; error: EventValidationError };

function safeParse(value: unknown): SafeParseResult {
  const fast = parseTradeFast(value);
  if (fast !== undefined) return { success: true, event: fast as StandardEvent };
  const result = StandardEventSchema.safeParse(value);
  return result.success
    ? { success: true, event: result.data as StandardEvent }
    : { success: false, error: EventValidationError.fromZod(result.error) };
}

/**
 * Returns a copy stamped with `processed_at` and `processing_time_ms` (the event's age at processing:
 * `processed_at - timestamp`, as in the original framework). Events are treated as immutable.
 */
export function markProcessed<E extends StandardEvent>(event: E, now: Date | number = Date.now()): E {
  const nowMs = typeof now === "number" ? now : now.getTime();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it for generic E
  return {
    ...event,
    processed_at: new Date(nowMs).toISOString(),
    processing_time_ms: nowMs - Date.parse(event.timestamp),
  } as E;
}

export function priorityOf(event: StandardEvent): number {
  return event.priority ?? DEFAULT_PRIORITY;
}

export function isEventOfType<T extends EventType>(event: StandardEvent, type: T): event is StandardEvent<T> {
  return event.event_type === type;
}

/** The public API of the original framework: `StandardEvent.create / parse / markProcessed`. */
export const StandardEvent = {
  create,
  parse,
  safeParse,
  markProcessed,
  schema: StandardEventSchema,
} as const;
