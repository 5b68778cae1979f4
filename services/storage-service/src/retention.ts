import { EVENT_TYPES, type EventType } from "@market-scraper/events";
import type { RetentionRules } from "./config.js";

/** The retention of each event type, `*` filling in the types not named; types with none are kept. */
export function effectiveRetention(rules: RetentionRules): Map<EventType, number> {
  const fallback = rules.get("*");
  const out = new Map<EventType, number>();
  for (const type of EVENT_TYPES) {
    const ms = rules.get(type) ?? fallback;
    if (ms !== undefined) out.set(type, ms);
  }
  return out;
}
