export type BusErrorCode =
  | "BUS_CLOSED"
  | "QUEUE_FULL"
  | "INVALID_FILTER"
  | "INVALID_SUBJECT"
  | "PUBLISH_FAILED"
  /** The NATS connection dropped under a request: no answer can come (see `NatsLink.guard`). */
  | "DISCONNECTED";

/** An error raised by an `EventBus`; `code` is from a closed set. */
export class BusError extends Error {
  override readonly name = "BusError";
  readonly code: BusErrorCode;

  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Normalizes anything thrown into a message string for logs and error events. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === "string" ? err : JSON.stringify(err);
}
