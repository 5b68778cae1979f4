import type { SequenceRules } from "../framework/order-book/index.js";

/**
 * Binance spot (exchanges.md §2.4): after a snapshot with `lastUpdateId`, drop every event with
 * `u <= lastUpdateId`; the first one applied must have `U <= lastUpdateId + 1 <= u` (an event whose `U`
 * is past `lastUpdateId + 1` means the snapshot is too old: fetch another). Then each event's `U` must
 * be the previous `u + 1` (an event with `u` at or below the book's id is old: ignored).
 */
export const binanceSpotRules: SequenceRules = {
  firstAfterSnapshot(snapshot, delta) {
    const id = snapshot.sequence;
    if (delta.last <= id) return "drop";
    const first = delta.first ?? delta.last;
    return first <= id + 1 ? "apply" : "gap";
  },
  next(applied, delta) {
    const id = applied.last;
    if (delta.last <= id) return "drop";
    const first = delta.first ?? delta.last;
    return first <= id + 1 ? "apply" : "gap";
  },
};

/**
 * Binance USDⓈ-M futures (exchanges-derivatives.md §1.2): after a snapshot with `lastUpdateId`, drop every
 * event with `u < lastUpdateId`; the first one applied must have `U <= lastUpdateId <= u`. Then each
 * event's `pu` must be the previous event's `u` (anything else is a gap; an event already applied,
 * `u <=` the last `u`, is dropped).
 */
export const binanceUsdmRules: SequenceRules = {
  firstAfterSnapshot(snapshot, delta) {
    const id = snapshot.sequence;
    if (delta.last < id) return "drop";
    const first = delta.first ?? delta.last;
    return first <= id ? "apply" : "gap";
  },
  next(applied, delta) {
    if (delta.prev === applied.last) return "apply";
    if (delta.last <= applied.last) return "drop";
    return "gap";
  },
};
