export type ProcessorErrorCode = "NO_BUS" | "INVALID_OPTION";

/**
 * A misuse of the Processor API (`start()` without a bus, an invalid option). A checkpoint cut short by a
 * dropped NATS connection fails with the bus's `BusError` `DISCONNECTED` (`NatsLink.guard`).
 */
export class ProcessorError extends Error {
  override readonly name = "ProcessorError";
  readonly code: ProcessorErrorCode;

  constructor(code: ProcessorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
