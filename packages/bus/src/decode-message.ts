import {
  type NormalizedFilter,
  type Stage,
  type StandardEvent,
  decodeEvent,
  isStage,
  matchesFilter,
  parseSubject,
  subjectFor,
  subjectMatchesEvent,
} from "@market-scraper/events";
import type { Delivery } from "./delivery-worker.js";
import { errorMessage } from "./errors.js";

export type Decoded =
  { kind: "event"; delivery: Delivery } | { kind: "filtered" } | { kind: "malformed"; error: string };

/**
 * `subjectMatchesEvent(parseSubject(subject), event)`, answered first by comparing the subject with the
 * one the event is published on (the canonical form, which is what arrives unless another client escaped
 * a token differently): a string comparison instead of splitting and unescaping every message's subject.
 */
function belongsOn(subject: string, stage: Stage, event: StandardEvent): boolean {
  try {
    if (subjectFor(event, stage) === subject) return true;
  } catch {
    // The event cannot travel in that stage at all: the full check below says no.
  }
  return subjectMatchesEvent(parseSubject(subject), event);
}

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
    if (!belongsOn(subject, stage, event)) {
      return { kind: "malformed", error: `event ${event.event_id} does not belong on ${subject}` };
    }
  } catch (err) {
    return { kind: "malformed", error: errorMessage(err) };
  }
  if (!matchesFilter(filter, event, stage)) return { kind: "filtered" };
  return { kind: "event", delivery: { event, subject } };
}
