import { EventValidationError } from "./errors.js";

/** Parses JSON bytes or text without schema validation. Throws `EventValidationError` (`INVALID_JSON`). */
export function decodeJson(data: Uint8Array | string): unknown {
  const text =
    typeof data === "string"
      ? data
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new EventValidationError(
      "INVALID_JSON",
      [{ path: "", message: cause instanceof Error ? cause.message : String(cause) }],
      { cause },
    );
  }
}
