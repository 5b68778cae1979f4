import { type ErrorEvent, EventType, StandardEvent, deadLetterSubject } from "@market-scraper/events";
import type { BusMetrics, DeadLetter } from "./event-bus.js";
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
      error_code: letter.reason === "MALFORMED" ? "MALFORMED_MESSAGE" : "HANDLER_FAILED",
      message:
        letter.reason === "MALFORMED"
          ? `malformed message on ${letter.subject}: ${letter.error}`
          : `handler failed ${letter.attempts} times on ${letter.subject}: ${letter.error}`,
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
