import { createHash } from "node:crypto";

/**
 * A UUID (version 8, RFC 9562 "custom") derived from a name: the same name always gives the same id.
 * Outputs get such ids (a candle from source|symbol|interval|bucket, a processed event from its
 * input's id) so that re-emitting after a crash is idempotent: JetStream drops a repeated
 * `Nats-Msg-Id` inside its duplicate window, and storage keeps one row per `event_id` after it.
 */
export function deterministicId(...parts: readonly (string | number)[]): string {
  const hex = createHash("sha256").update(parts.join("\u001f")).digest("hex");
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
