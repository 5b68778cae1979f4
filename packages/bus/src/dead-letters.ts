import {
  type ErrorEvent,
  EventType,
  StandardEvent,
  deadLetterSubject,
  encodeEvent,
  subjectFor,
} from "@market-scraper/events";
import type { BusMetrics, DeadLetter, DeadLetterReason } from "./event-bus.js";
import type { BusLogger } from "./logger.js";

/** Fans dead letters out to listeners; a throwing listener is logged, never propagated. */
export class DeadLetterHub {
  readonly #listeners = new Set<(letter: DeadLetter) => void>();

  constructor(
    private readonly logger: BusLogger,
    private readonly metrics: BusMetrics,
    private readonly source: string,
  ) {}

  /**
   * What every bus does first with a dead letter: count, log and tell listeners. Returns the
   * `deadletter.…` subject and the `error` event to publish with it — none for a dead letter on
   * `system.error.…`, which could loop.
   */
  record(letter: DeadLetter): { subject: string; report: ErrorEvent | null } {
    this.metrics.dead_lettered++;
    const subject = deadLetterSubject(letter.subject);
    this.logger.warn(
      { subject: letter.subject, reason: letter.reason, attempts: letter.attempts, error: letter.error },
      "message dead-lettered",
    );
    this.emit(letter);
    if (letter.subject.startsWith(`system.${EventType.ERROR}.`)) return { subject, report: null };
    try {
      return { subject, report: deadLetterErrorEvent(this.source, letter, subject) };
    } catch (err) {
      this.logger.error({ err }, "could not build the dead-letter error event");
      return { subject, report: null };
    }
  }

  add(listener: (letter: DeadLetter) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(letter: DeadLetter): void {
    for (const listener of this.#listeners) {
      try {
        listener(letter);
      } catch (err) {
        this.logger.error({ err }, "dead-letter listener threw");
      }
    }
  }
}

/** Publishes one message to JetStream (stable `msgId`: a repeated dead letter is dropped by the server). */
export type DeadLetterSend = (subject: string, data: Uint8Array, msgId: string | undefined) => Promise<void>;

/**
 * Records a dead letter (`hub.record`: counted, logged, listeners told), then publishes its original bytes
 * on `deadletter.<subject>` and the `error` event that goes with it; resolves once both are stored and
 * rejects when either could not be (the caller keeps the message: nak, count a drop).
 */
export async function publishDeadLetter(
  hub: DeadLetterHub,
  send: DeadLetterSend,
  letter: DeadLetter,
  msgId: string | undefined,
): Promise<void> {
  const { subject, report } = hub.record(letter);
  const sends = [send(subject, letter.data, msgId)];
  if (report !== null) {
    const reportId = msgId === undefined ? report.event_id : `${msgId}-error`;
    sends.push(send(subjectFor(report), encodeEvent(report), reportId));
  }
  await Promise.all(sends);
}

const ERROR_CODES: Readonly<Record<DeadLetterReason, string>> = {
  MALFORMED: "MALFORMED_MESSAGE",
  HANDLER_FAILED: "HANDLER_FAILED",
  REJECTED: "REJECTED",
};

function describe(letter: DeadLetter): string {
  switch (letter.reason) {
    case "MALFORMED":
      return `malformed message on ${letter.subject}: ${letter.error}`;
    case "HANDLER_FAILED":
      return `handler failed ${letter.attempts} times on ${letter.subject}: ${letter.error}`;
    case "REJECTED":
      return `rejected on ${letter.subject}: ${letter.error}`;
  }
}

/** The `error` event that accompanies every dead letter, published on `system.error.<source>`. */
export function deadLetterErrorEvent(
  source: string,
  letter: DeadLetter,
  deadLetterSubject: string,
): ErrorEvent {
  return StandardEvent.create({
    event_type: EventType.ERROR,
    source,
    payload: {
      error_code: ERROR_CODES[letter.reason],
      message: describe(letter),
      details: {
        subject: letter.subject,
        deadletter_subject: deadLetterSubject,
        reason: letter.reason,
        attempts: letter.attempts,
        ...(letter.event_id === undefined ? {} : { event_id: letter.event_id }),
      },
    },
    ...(letter.event_id === undefined ? {} : { parent_event_id: letter.event_id }),
  });
}
