import {
  type NormalizedFilter,
  type StandardEvent,
  decodeEvent,
  isStage,
  matchesFilter,
  parseSubject,
  subjectMatchesEvent,
} from "@market-scraper/events";
import type { Delivery } from "./delivery-worker.js";
import { errorMessage } from "./errors.js";

export type Decoded =
  { kind: "event"; delivery: Delivery } | { kind: "filtered" } | { kind: "malformed"; error: string };

/**
 * Decodes a received message, checks that the event belongs on the subject it came on (a mislabelled
 * message is malformed), and applies the subscriber's filter.
 */
export function decodeMessage(subject: string, data: Uint8Array, filter: NormalizedFilter): Decoded {
  const stage = subject.slice(0, subject.indexOf("."));
  if (!isStage(stage)) return { kind: "malformed", error: `not an event subject: ${subject}` };
  let event: StandardEvent;
  try {
    event = decodeEvent(data);
    if (!subjectMatchesEvent(parseSubject(subject), event)) {
      return { kind: "malformed", error: `event ${event.event_id} does not belong on ${subject}` };
    }
  } catch (err) {
    return { kind: "malformed", error: errorMessage(err) };
  }
  if (!matchesFilter(filter, event, stage)) return { kind: "filtered" };
  return { kind: "event", delivery: { event, subject } };
}
