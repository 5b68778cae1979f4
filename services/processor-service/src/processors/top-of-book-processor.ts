import type { EventBus } from "@market-scraper/bus";
import { type EventType, type StandardEvent, EventType as Types } from "@market-scraper/events";
import { fromNumber, half, add, sub, toNumber } from "../decimal.js";
import { Processor, type ProcessorOptions } from "../processor.js";

export interface TopOfBook {
  spread: number;
  mid: number;
  /** (bid_volume − ask_volume) / (bid_volume + ask_volume), in [-1, 1]; absent when both are 0 or unknown. */
  imbalance?: number;
}

/**
 * Top-of-book figures from best bid/ask: `spread = ask − bid` and `mid = (bid + ask) / 2`, both computed
 * in exact decimal and rounded once (so 0.3 − 0.1 is 0.2, not 0.19999999999999998), and `imbalance` of
 * the sizes at the top.
 */
export function topOfBook(bid: number, ask: number, bidVolume?: number, askVolume?: number): TopOfBook {
  const b = fromNumber(bid);
  const a = fromNumber(ask);
  const result: TopOfBook = { spread: toNumber(sub(a, b)), mid: toNumber(half(add(a, b))) };
  if (bidVolume !== undefined && askVolume !== undefined && bidVolume + askVolume > 0) {
    result.imbalance = (bidVolume - askVolume) / (bidVolume + askVolume);
  }
  return result;
}

/**
 * Adds `spread`, `mid` and `imbalance` to `order_book` and `ticker` events (a ticker's `imbalance` only
 * when it carries `bid_volume` and `ask_volume`).
 */
export class TopOfBookProcessor extends Processor {
  override readonly eventTypes: readonly EventType[] = [Types.ORDER_BOOK, Types.TICKER];

  constructor(bus: EventBus | null = null, options: ProcessorOptions = {}) {
    super(bus, { name: "top-of-book", ...options });
  }

  override process(event: StandardEvent): StandardEvent {
    if (event.event_type === Types.ORDER_BOOK) {
      const p = event.payload;
      const tob = topOfBook(p.bid, p.ask, p.bid_volume, p.ask_volume);
      return { ...event, payload: { ...p, ...tob } };
    }
    if (event.event_type === Types.TICKER) {
      const p = event.payload;
      const tob = topOfBook(p.bid, p.ask, p.bid_volume, p.ask_volume);
      return { ...event, payload: { ...p, ...tob } };
    }
    return event;
  }
}
