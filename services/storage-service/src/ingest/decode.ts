import { type Stage, decodeEvent, isStage, parseSubject, subjectMatchesEvent } from "@market-scraper/events";
import { type EventRow, eventRow } from "../store/event-row.js";
import { errorMessage } from "../store/store-error.js";

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
    return { ok: true, row: eventRow(event, stage satisfies Stage, text) };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
}
