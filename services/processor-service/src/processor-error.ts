export type ProcessorErrorCode = "NO_BUS" | "INVALID_OPTION" | "NATS_DISCONNECTED";

/**
 * A misuse of the Processor API (`start()` without a bus, an invalid option), or a checkpoint cut short
 * because the NATS connection dropped under it (`NATS_DISCONNECTED`: its requests can no longer be answered).
 */
export class ProcessorError extends Error {
  override readonly name = "ProcessorError";
  readonly code: ProcessorErrorCode;

  constructor(code: ProcessorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
