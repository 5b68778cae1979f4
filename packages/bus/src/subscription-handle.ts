import { type EventFilter, type NormalizedFilter, normalizeFilter } from "@market-scraper/events";
import { BusError, errorMessage } from "./errors.js";
import type { SubscribeOptions, Subscription } from "./event-bus.js";

/** A transport's running subscription: `stop()` ends intake and waits for the handler in flight. */
export interface ActiveSubscription {
  stop(): Promise<void>;
}

/** Validates a subscriber's filter; an invalid one is an `INVALID_FILTER` `BusError`. */
export function normalizeBusFilter(filter: EventFilter): NormalizedFilter {
  try {
    return normalizeFilter(filter);
  } catch (cause) {
    throw new BusError("INVALID_FILTER", errorMessage(cause), { cause });
  }
}

/** The `Subscription` handed to callers: tracked in `open` until unsubscribed, idempotent. */
export function subscriptionHandle(
  active: ActiveSubscription,
  open: Set<ActiveSubscription>,
  filter: EventFilter,
  options: SubscribeOptions,
): Subscription {
  open.add(active);
  let stopped = false;
  return {
    filter,
    options,
    unsubscribe: async () => {
      if (stopped) return;
      stopped = true;
      open.delete(active);
      await active.stop();
    },
  };
}
