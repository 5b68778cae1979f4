import { z } from "zod";
import { EventValidationError } from "./errors.js";
import { EVENT_TYPES, EventType } from "./event-type.js";
import { decodeJson } from "./json-text.js";
import { IsoTimestamp, PayloadSchemas, type PayloadInput } from "./payloads.js";
import { uuidv7, uuidv7Time } from "./uuid.js";

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
    .describe(
      "set by markProcessed: the processing duration in ms, from payload.received_at (the connector's " +
        "receipt; else the event's creation) to processed_at",
    ),
};

function variant<T extends EventType>(type: T) {
  return z.looseObject({ ...envelope, event_type: z.literal(type), payload: PayloadSchemas[type] });
}

export const EventSchemas = {
  [EventType.TRADE]: variant(EventType.TRADE),
  [EventType.TICKER]: variant(EventType.TICKER),
  [EventType.ORDER_BOOK]: variant(EventType.ORDER_BOOK),
  [EventType.OHLCV]: variant(EventType.OHLCV),
  [EventType.LIQUIDATION]: variant(EventType.LIQUIDATION),
  [EventType.DERIVATIVE_TICKER]: variant(EventType.DERIVATIVE_TICKER),
  [EventType.CONNECTOR_STATUS]: variant(EventType.CONNECTOR_STATUS),
  [EventType.HEARTBEAT]: variant(EventType.HEARTBEAT),
  [EventType.ERROR]: variant(EventType.ERROR),
  [EventType.CUSTOM]: variant(EventType.CUSTOM),
} as const;

/** The whole wire format: one schema, discriminated by `event_type`. */
export const StandardEventSchema = z.discriminatedUnion(
  "event_type",
  EVENT_TYPES.map((t) => EventSchemas[t]) as unknown as [
    (typeof EventSchemas)[EventType],
    ...(typeof EventSchemas)[EventType][],
  ],
);

/**
 * What `parse` and `safeParse` run: zod's own ahead-of-time compiled clone of the schema (`z.compile`,
 * zod >= 4.5), several times faster than the runtime parser with the same results and the same errors
 * (zod takes invalid input back to its runtime parser to report it). Were zod ever to refuse to compile
 * the schema, `z.compile` would hand it back unchanged: still correct, only slower, and
 * compiled-parse.test.ts fails so that it is noticed.
 */
const CompiledEventSchema = z.compile(StandardEventSchema);

type EnvelopeOf<T extends EventType> = z.infer<(typeof EventSchemas)[T]>;

/** A `StandardEvent`, narrowed by its `event_type`. */
export type StandardEvent<T extends EventType = EventType> = { [K in T]: EnvelopeOf<K> }[T];

export type TradeEvent = StandardEvent<"trade">;
export type TickerEvent = StandardEvent<"ticker">;
export type OrderBookEvent = StandardEvent<"order_book">;
export type OhlcvEvent = StandardEvent<"ohlcv">;
export type LiquidationEvent = StandardEvent<"liquidation">;
export type DerivativeTickerEvent = StandardEvent<"derivative_ticker">;
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

/**
 * Validates an event: the decoded value, or the JSON text of one (as read off the wire). Throws
 * `EventValidationError` naming each bad field (`INVALID_JSON` for text that is not JSON).
 */
function parse(input: unknown): StandardEvent {
  const value = typeof input === "string" ? decodeJson(input) : input;
  const result = CompiledEventSchema.safeParse(value);
  if (!result.success) throw EventValidationError.fromZod(result.error);
  return result.data;
}

export type SafeParseResult =
  { success: true; event: StandardEvent } | { success: false; error: EventValidationError };

/** `parse` without throwing: the decoded value or its JSON text. */
function safeParse(input: unknown): SafeParseResult {
  let value = input;
  if (typeof input === "string") {
    try {
      value = decodeJson(input);
    } catch (error) {
      return { success: false, error: error as EventValidationError };
    }
  }
  const result = CompiledEventSchema.safeParse(value);
  return result.success
    ? { success: true, event: result.data as StandardEvent }
    : { success: false, error: EventValidationError.fromZod(result.error) };
}

/**
 * When the data entered the system, in ms: the moment a replay played it (`payload.replayed_at`), else the
 * connector's receipt (`payload.received_at`), else the event's creation as recorded in a UUIDv7
 * `event_id`; `undefined` when the event says none of them.
 */
export function receivedAtOf(event: StandardEvent): number | undefined {
  const payload = event.payload as { received_at?: unknown; replayed_at?: unknown };
  for (const at of [payload.replayed_at, payload.received_at]) {
    if (typeof at !== "string") continue;
    const ms = Date.parse(at);
    if (Number.isFinite(ms)) return ms;
  }
  return uuidv7Time(event.event_id);
}

/**
 * Returns a copy stamped with `processed_at` (= `now`) and `processing_time_ms`: the processing
 * duration, from `receivedAt` (default `receivedAtOf(event)`) to `processed_at`; `null` when unknown.
 * It is not the event's age: a replayed trade of two months ago processed in 3 ms reads 3. The age
 * (exchange time → processed) is `processedAgeMs`. Events are treated as immutable.
 */
export function markProcessed<E extends StandardEvent>(
  event: E,
  now: Date | number = Date.now(),
  receivedAt: number | undefined = receivedAtOf(event),
): E {
  const nowMs = typeof now === "number" ? now : now.getTime();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- tsc needs it for generic E
  return {
    ...event,
    processed_at: new Date(nowMs).toISOString(),
    processing_time_ms: receivedAt === undefined ? null : nowMs - receivedAt,
  } as E;
}

/** Exchange → processed latency of a processed event (`processed_at - timestamp`), in ms; else undefined. */
export function processedAgeMs(event: StandardEvent): number | undefined {
  if (typeof event.processed_at !== "string") return undefined;
  return Date.parse(event.processed_at) - Date.parse(event.timestamp);
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
  receivedAtOf,
  schema: StandardEventSchema,
} as const;
