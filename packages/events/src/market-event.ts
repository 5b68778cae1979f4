import type { MarketDataType } from "./event-type.js";
import { DEFAULT_PRIORITY, type StandardEvent } from "./standard-event.js";

/**
 * A market-data event as a connector makes it from an exchange message whose fields it has checked
 * (not validated again here): priority 5, not processed, no parent, always this one object shape (the
 * fields in this order), which keeps V8's property access monomorphic on the hot path.
 *
 * The `correlation_id` rule for every market event: the events made from one exchange message share
 * one correlation id, the `event_id` of the first of them; so an event made alone from its message
 * (a book, a ticker, a candle, a lone trade) has its own `event_id`. It is never null, and it is as
 * deterministic as the ids.
 */
export function marketEvent<T extends MarketDataType>(
  event_type: T,
  event_id: string,
  timestamp: string,
  source: string,
  payload: StandardEvent<T>["payload"],
  correlation_id: string = event_id,
): StandardEvent<T> {
  return {
    event_id,
    event_type,
    timestamp,
    source,
    payload,
    correlation_id,
    parent_event_id: null,
    priority: DEFAULT_PRIORITY,
    processed_at: null,
    processing_time_ms: null,
  } as StandardEvent<T>;
}
