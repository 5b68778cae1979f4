import { type StandardEvent, encodeEvent, subjectFor } from "@market-scraper/events";
import { type JetStreamClient } from "@nats-io/jetstream";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import {
  HealthState,
  type Logger,
  type Service,
  createMetricsRegistry,
  parseEnv,
  registerMicroService,
} from "@market-scraper/runtime";
import { storageEnv } from "../src/config.js";
import { type StorageService, createStorageService } from "../src/service.js";
import type { Store } from "../src/store/store.js";

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

/**
 * The service in this process on `store`, with its own NATS connection (and, unless `micro: false`, its
 * query endpoints). `stop()` stops it once, then drains the connection.
 */
export async function startStorage(
  natsUrl: string,
  store: Store,
  options: { env?: Record<string, string>; micro?: boolean; health?: HealthState; logger: Logger },
): Promise<{ service: StorageService; health: HealthState; stop: () => Promise<void> }> {
  const health = options.health ?? new HealthState();
  const connection = await connect({ servers: natsUrl, noAsyncTraces: true, maxReconnectAttempts: -1 });
  let micro: Service | undefined;
  if (options.micro !== false)
    micro = await registerMicroService(connection, { name: "storage-service", version: "0.1.0" });
  const service = createStorageService({
    nc: connection,
    store,
    logger: options.logger,
    config: testConfig(options.env),
    registry: createMetricsRegistry({ service: "storage-test", collectDefault: false }),
    health,
    ...(micro === undefined ? {} : { micro }),
  });
  await service.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await service.stop();
    await micro?.stop();
    await connection.drain();
  };
  return { service, health, stop };
}
