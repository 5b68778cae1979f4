import { decodeJson } from "./json-text.js";
import { StandardEvent } from "./standard-event.js";

/**
 * Serializes an event to UTF-8 JSON bytes. Returns a `Buffer` (a `Uint8Array`): nats.js encodes strings
 * with a slow TextEncoder path on Node 20, so transports should be given bytes.
 */
export function encodeEvent(event: StandardEvent): Buffer {
  return Buffer.from(JSON.stringify(event), "utf8");
}

/** Decodes and validates one message. Throws `EventValidationError` (`INVALID_JSON` or `INVALID_EVENT`). */
export function decodeEvent(data: Uint8Array | string): StandardEvent {
  return StandardEvent.parse(decodeJson(data));
}

export { decodeJson };
