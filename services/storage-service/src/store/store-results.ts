import type { EventType } from "@market-scraper/events";
import type { MarketRow, StoreStats } from "./store.js";

/** Folds (source, symbol, event_type) groups into one market per (source, symbol), keeping the order. */
export function mergeMarkets(
  rows: readonly { source: string; symbol: string; event_type: string; first_us: number; last_us: number }[],
): MarketRow[] {
  const markets = new Map<
    string,
    { source: string; symbol: string; event_types: EventType[]; first_us: number; last_us: number }
  >();
  for (const r of rows) {
    const key = JSON.stringify([r.source, r.symbol]);
    const m = markets.get(key);
    if (m === undefined) {
      markets.set(key, {
        source: r.source,
        symbol: r.symbol,
        event_types: [r.event_type as EventType],
        first_us: r.first_us,
        last_us: r.last_us,
      });
    } else {
      m.event_types.push(r.event_type as EventType);
      m.first_us = Math.min(m.first_us, r.first_us);
      m.last_us = Math.max(m.last_us, r.last_us);
    }
  }
  return [...markets.values()];
}

/** Totals from per-type (count, first, last). */
export function statsOf(
  rows: readonly { event_type: string; n: number; first_us: number; last_us: number }[],
): StoreStats {
  const by_type: Record<string, number> = {};
  let total = 0;
  let oldest: number | null = null;
  let newest: number | null = null;
  for (const r of rows) {
    by_type[r.event_type] = r.n;
    total += r.n;
    oldest = oldest === null ? r.first_us : Math.min(oldest, r.first_us);
    newest = newest === null ? r.last_us : Math.max(newest, r.last_us);
  }
  return { total_events: total, by_type, oldest_us: oldest, newest_us: newest };
}
