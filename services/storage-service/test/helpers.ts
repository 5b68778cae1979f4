import { type StandardEvent, encodeEvent, subjectFor } from "@market-scraper/events";
import { type JetStreamClient } from "@nats-io/jetstream";
import { type NatsConnection } from "@nats-io/transport-node";
import { parseEnv } from "@market-scraper/runtime";
import { storageEnv } from "../src/config.js";

/** The service config from env-style strings (as main.ts would parse them). */
export function testConfig(env: Record<string, string> = {}) {
  return parseEnv(storageEnv, { DATABASE_URL: "sqlite::memory:", STORAGE_FLUSH_MS: "20ms", ...env });
}

/**
 * Publishes to JetStream with `Nats-Msg-Id` = event_id, in windows, retrying what fails (e.g. while the
 * server restarts): the stream's duplicate window drops the repeats.
 */
export async function publishAll(
  js: JetStreamClient,
  events: readonly StandardEvent[],
  window = 250,
): Promise<void> {
  for (let i = 0; i < events.length; i += window) {
    let pending = events.slice(i, i + window);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 200) throw new Error("publish kept failing");
      const results = await Promise.allSettled(
        pending.map((e) => js.publish(subjectFor(e), encodeEvent(e), { msgID: e.event_id, timeout: 2_000 })),
      );
      pending = pending.filter((_, k) => results[k]!.status === "rejected");
      if (pending.length > 0) await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** A `storage.*` request; resolves with the JSON reply and the micro error code header, if any. */
export async function request(
  nc: NatsConnection,
  subject: string,
  body: unknown,
): Promise<{ json: unknown; errorCode: string | undefined }> {
  const reply = await nc.request(subject, Buffer.from(JSON.stringify(body)), { timeout: 5_000 });
  return { json: reply.json(), errorCode: reply.headers?.get("Nats-Service-Error-Code") || undefined };
}
