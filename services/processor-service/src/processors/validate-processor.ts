import type { EventBus } from "@market-scraper/bus";
import {
  type EventType,
  type StandardEvent,
  EventType as Types,
  MARKET_DATA_TYPES,
  StandardEvent as Events,
} from "@market-scraper/events";
import { deterministicId } from "../deterministic-id.js";
import { Processor, type ProcessorOptions, errorEventFor } from "../processor.js";

/** The sanity rules; an error event's `details.rule` names the one that failed. */
export const ValidationRule = {
  SCHEMA: "schema",
  PRICE_POSITIVE: "price_positive",
  VOLUME_NON_NEGATIVE: "volume_non_negative",
  OHLC_RANGE: "ohlc_range",
  BID_ASK_CROSSED: "bid_le_ask",
  TIMESTAMP_FUTURE: "timestamp_not_future",
  TIMESTAMP_INVALID: "timestamp_valid",
} as const;
export type ValidationRule = (typeof ValidationRule)[keyof typeof ValidationRule];

export const VALIDATION_FAILED = "VALIDATION_FAILED";

export interface ValidationFailure {
  rule: ValidationRule;
  field: string;
  value: unknown;
  message: string;
}

export interface ValidateOptions extends ProcessorOptions {
  /** How far past the clock an event's time may be before it is "absurdly in the future". Default 5 min. */
  maxFutureMs?: number;
}

const PRICE_FIELDS: Record<string, readonly string[]> = {
  trade: ["price"],
  ticker: ["price", "bid", "ask"],
  order_book: ["bid", "ask"],
  ohlcv: ["open", "high", "low", "close"],
  liquidation: ["price"],
  derivative_ticker: ["mark_price", "index_price"],
};
const VOLUME_FIELDS: Record<string, readonly string[]> = {
  trade: ["volume"],
  ticker: ["volume", "bid_volume", "ask_volume"],
  order_book: ["bid_volume", "ask_volume"],
  ohlcv: ["volume"],
  liquidation: ["volume"],
  derivative_ticker: ["open_interest", "open_interest_value"],
};

/**
 * Checks every market data event against its schema and the sanity rules: prices finite and > 0,
 * volumes finite and ≥ 0, high ≥ max(open, close) and low ≤ min(open, close), bid ≤ ask, and a time
 * not more than `maxFutureMs` ahead of the clock. A valid event passes unchanged; an invalid one is
 * replaced by a `VALIDATION_FAILED` error event whose `details.rule` and `details.field` name the
 * first failed rule, with `parent_event_id` = the bad event.
 */
export class ValidateProcessor extends Processor {
  override readonly eventTypes: readonly EventType[] = MARKET_DATA_TYPES;
  readonly maxFutureMs: number;

  constructor(bus: EventBus | null = null, options: ValidateOptions = {}) {
    super(bus, { name: "validate", ...options });
    this.maxFutureMs = options.maxFutureMs ?? 5 * 60_000;
  }

  override process(event: StandardEvent): StandardEvent {
    const failure = this.check(event);
    if (failure === null) return event;
    return errorEventFor(event, {
      source: this.errorSource,
      id: deterministicId("error", this.name, event.event_id),
      code: VALIDATION_FAILED,
      message: failure.message,
      details: { rule: failure.rule, field: failure.field, value: failure.value, processor: this.name },
    });
  }

  /** The first rule `event` breaks, or `null`. */
  check(event: StandardEvent): ValidationFailure | null {
    // Numeric rules first: an Infinity price should be reported as a price rule, not a schema error.
    const payload = (event.payload ?? {}) as unknown as Record<string, unknown>;
    for (const field of PRICE_FIELDS[event.event_type] ?? []) {
      const v = payload[field];
      if (v === undefined) continue;
      if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
        return fail(ValidationRule.PRICE_POSITIVE, `payload.${field}`, v, "must be a finite number > 0");
      }
    }
    for (const field of VOLUME_FIELDS[event.event_type] ?? []) {
      const v = payload[field];
      if (v === undefined) continue;
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
        return fail(ValidationRule.VOLUME_NON_NEGATIVE, `payload.${field}`, v, "must be a finite number ≥ 0");
      }
    }
    const parsed = Events.safeParse(event);
    if (!parsed.success) {
      const field = parsed.error.field ?? "";
      return {
        rule: ValidationRule.SCHEMA,
        field,
        value: null,
        message: `schema: ${parsed.error.message}`,
      };
    }
    if (event.event_type === Types.OHLCV) {
      const { open, high, low, close } = event.payload;
      if (high < Math.max(open, close)) {
        return fail(
          ValidationRule.OHLC_RANGE,
          "payload.high",
          high,
          `must be ≥ max(open, close) = ${Math.max(open, close)}`,
        );
      }
      if (low > Math.min(open, close)) {
        return fail(
          ValidationRule.OHLC_RANGE,
          "payload.low",
          low,
          `must be ≤ min(open, close) = ${Math.min(open, close)}`,
        );
      }
    }
    if (event.event_type === Types.TICKER || event.event_type === Types.ORDER_BOOK) {
      const { bid, ask } = event.payload;
      if (bid > ask)
        return fail(ValidationRule.BID_ASK_CROSSED, "payload.bid", bid, `must be ≤ ask (${ask})`);
    }
    const limit = this.clock.now() + this.maxFutureMs;
    for (const [field, value] of [
      ["timestamp", event.timestamp],
      ["payload.timestamp", payload["timestamp"]],
    ] as const) {
      if (value === undefined) continue;
      const ms = typeof value === "string" ? Date.parse(value) : NaN;
      if (Number.isNaN(ms))
        return fail(ValidationRule.TIMESTAMP_INVALID, field, value, "must be an ISO-8601 time");
      if (ms > limit) {
        return fail(
          ValidationRule.TIMESTAMP_FUTURE,
          field,
          value,
          `is more than ${this.maxFutureMs} ms in the future`,
        );
      }
    }
    return null;
  }
}

function fail(rule: ValidationRule, field: string, value: unknown, what: string): ValidationFailure {
  return { rule, field, value, message: `${rule}: ${field} ${what} (got ${String(value)})` };
}
