import { type Stage, decodeEvent, isStage, parseSubject, subjectMatchesEvent } from "@market-scraper/events";
import { type EventRow, eventRow } from "../store/event-row.js";
import { errorMessage } from "../store/store-error.js";

/** A JSON string value that is an ISO time with a `±hh:mm` offset instead of `Z`. */
const OFFSET_TIME = /\d{4}-\d{2}-\d{2}T[\d:.]+[+-]\d{2}:?\d{2}"/;

export type DecodedMessage = { ok: true; row: EventRow } | { ok: false; error: string; event_id?: string };

/**
 * A message as a row, or why it cannot be one: not JSON, not a valid event, or an event that does not
 * belong on its subject. The stage is the subject's first token.
 */
export function decodeMessage(subject: string, data: Uint8Array): DecodedMessage {
  const stage = subject.slice(0, subject.indexOf("."));
  if (!isStage(stage)) return { ok: false, error: `not an event subject: ${subject}` };
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
  try {
    const event = decodeEvent(text);
    if (!subjectMatchesEvent(parseSubject(subject), event)) {
      return {
        ok: false,
        error: `event ${event.event_id} does not belong on ${subject}`,
        event_id: event.event_id,
      };
    }
    // The body is stored as received (no re-encoding per message), unless it holds a time with an offset:
    // parsing gave those in UTC with `Z`, and what we store and serve says `Z` always.
    const body = OFFSET_TIME.test(text) ? JSON.stringify(event) : text;
    return { ok: true, row: eventRow(event, stage satisfies Stage, body) };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
}
