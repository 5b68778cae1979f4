import { createServer } from "node:net";
import { MemoryEventBus, backoffDelay } from "@market-scraper/bus";
import { HealthState, createLogger, createMetricsRegistry, parseEnv } from "@market-scraper/runtime";
import { makeOhlcv, makeTrade } from "@market-scraper/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { storageEnv } from "./config.js";
import { START_RETRY_INITIAL_MS, createStorageService } from "./service.js";
import { PostgresStore } from "./store/postgres-store.js";
import { eventRow } from "./store/event-row.js";
import { SqliteStore } from "./store/sqlite-store.js";

describe("storage service housekeeping", () => {
  it("applies STORAGE_RETENTION per event type at the injected time", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    await store.migrate();
    const now = Date.parse("2024-03-31T00:00:00Z");
    const daysAgo = (d: number) => new Date(now - d * 86_400_000).toISOString();
    const events = [
      makeTrade({ timestamp: daysAgo(10) }),
      makeTrade({ timestamp: daysAgo(1) }),
      makeOhlcv({ timestamp: daysAgo(10), payload: { interval: "1m" } }),
    ];
    await store.insert(events.map((e) => eventRow(e, "market", JSON.stringify(e))));
    const service = createStorageService({
      nc: {} as NatsConnection, // housekeeping does not touch NATS
      store,
      logger: createLogger({ service: "test", level: "silent" }),
      registry: createMetricsRegistry({ service: "test", collectDefault: false }),
      config: parseEnv(storageEnv, { STORAGE_RETENTION: "trade:7d" }),
      clock: () => now,
    });
    await service.housekeeping();
    expect((await store.stats()).by_type).toEqual({ trade: 1, ohlcv: 1 });
    expect((await service.metrics.retentionDeleted.get()).values[0]!.value).toBe(1);
    await store.close();
  });
});

/** A port nothing listens on (taken from the OS, then released): every connection is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("storage service start", () => {
  it("waits for the database with the one backoff formula, logs why, and a stop ends the wait", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      service: "test",
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    const store = new PostgresStore({
      url: `postgres://u@127.0.0.1:${await closedPort()}/none`,
      poolSize: 1,
    });
    const health = new HealthState();
    const service = createStorageService({
      ingest: { kind: "bus", bus: new MemoryEventBus() },
      store,
      logger,
      health,
      registry: createMetricsRegistry({ service: "test", collectDefault: false }),
      config: parseEnv(storageEnv, { STORAGE_MAX_BACKOFF: "40ms" }),
      random: () => 0.5,
    });
    const started = service.start();
    const retries = () => lines.filter((l) => l.msg === "database unavailable at start; retrying");
    await expect.poll(() => retries().length).toBeGreaterThanOrEqual(3);
    await service.stop();
    await started; // returns once stopped, without the database
    const options = { initialMs: START_RETRY_INITIAL_MS, maxMs: 40 };
    expect(
      retries()
        .slice(0, 3)
        .map((l) => l.retryInMs),
    ).toEqual([1, 2, 3].map((n) => backoffDelay(n, options, () => 0.5)));
    expect(retries()[0]).toMatchObject({
      attempt: 1,
      err: { type: "StoreError", code: "UNAVAILABLE", cause: { code: "ECONNREFUSED" } },
    });
    expect(health.snapshot().checks.database).toMatchObject({ ok: false });
    const count = retries().length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(retries()).toHaveLength(count); // nothing left polling
    await store.close();
  });
});
