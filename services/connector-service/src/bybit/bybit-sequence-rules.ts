import type { SequenceRules } from "../framework/order-book/types.js";

/**
 * Bybit v5 `orderbook.<depth>` sequencing (exchanges.md §5.6): the stream pushes its own snapshot (on
 * subscribe, and again whenever the exchange resets the book, e.g. `u` = 1 after a service restart: the
 * engine treats every snapshot as a reset); each delta's `u` is the previous one's + 1 within a topic.
 * A delta at or below the book's `u` was already in it (dropped); one past `u` + 1 means updates were
 * missed: a gap, resync by resubscribing the topic.
 */
export function bybitSequenceRules(): SequenceRules {
  return {
    firstAfterSnapshot(snapshot, delta) {
      if (delta.last <= snapshot.sequence) return "drop";
      return delta.last === snapshot.sequence + 1 ? "apply" : "gap";
    },
    next(lastApplied, delta) {
      if (delta.last <= lastApplied.last) return "drop";
      return delta.last === lastApplied.last + 1 ? "apply" : "gap";
    },
  };
}
