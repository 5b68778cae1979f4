import { EventType, StandardEvent, type TradeEvent, encodeEvent } from "@market-scraper/events";

export const SOURCE = "bench";
export const SYMBOL = "BTC-USD";

/**
 * A realistic trade, built the way a connector builds one (`StandardEvent.create`: validated, with a
 * UUIDv7 `event_id` and `correlation_id`). Its `trade_id` is the benchmark index, so a handler can find
 * the event's send time.
 */
export function makeTrade(index: number, source = SOURCE): TradeEvent {
  return StandardEvent.create({
    event_type: EventType.TRADE,
    source,
    payload: {
      symbol: SYMBOL,
      price: 50_000 + (index % 1000) / 100,
      volume: 0.0125 + (index % 7) / 1000,
      timestamp: new Date().toISOString(),
      side: index % 2 === 0 ? "buy" : "sell",
      trade_id: String(index),
    },
  });
}

/** The benchmark index carried in a trade's `trade_id`. */
export function indexOf(event: StandardEvent): number {
  return Number((event.payload as { trade_id?: string }).trade_id);
}

export interface EventPool {
  readonly events: readonly TradeEvent[];
  /** The same events, serialized once (what the raw baselines send). */
  readonly bytes: readonly Buffer[];
}

/** `size` distinct trades, created and encoded up front. */
export function makePool(size: number, source = SOURCE): EventPool {
  const events = Array.from({ length: size }, (_, i) => makeTrade(i, source));
  return { events, bytes: events.map((e) => encodeEvent(e)) };
}
