import { EVENT_TYPES, type StandardEvent } from "@market-scraper/events";
import { createLogger } from "@market-scraper/runtime";
import {
  makeTrades,
  startNats,
  startPostgres,
  waitFor,
  type NatsServerHandle,
} from "@market-scraper/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DATABASE_HEALTH_CHECK } from "../src/ingest/ingest-worker.js";
import type { StorageService } from "../src/service.js";
import { PostgresStore } from "../src/store/postgres-store.js";
import { SqliteStore } from "../src/store/sqlite-store.js";
import type { Store } from "../src/store/store.js";
import { StoreError } from "../src/store/store-error.js";
import { publishAll, request, startStorage } from "./helpers.js";

const logger = createLogger({
  service: "storage-test",
  level: (process.env.TEST_LOG_LEVEL as "silent" | undefined) ?? "silent",
});

/** A store whose writes fail as UNAVAILABLE while `down` is set: a database outage. */
class FlakyStore extends SqliteStore {
  down = false;
  failedMigrations = 0;
  migrationFailures = 0;
  override async migrate(): Promise<void> {
    if (this.failedMigrations < this.migrationFailures) {
      this.failedMigrations++;
      throw new StoreError("UNAVAILABLE", "database unavailable: not up yet");
    }
    return super.migrate();
  }
  override async insert(rows: Parameters<Store["insert"]>[0]): Promise<number> {
    if (this.down) throw new StoreError("UNAVAILABLE", "database unavailable: simulated outage");
    return super.insert(rows);
  }
}

describe("storage service on JetStream", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeEach(async () => {
    nats = await startNats({ isolated: true });
    nc = await connect({ servers: nats.url, noAsyncTraces: true });
  });
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
    await nc.close();
    await nats.stop();
  });

  async function startService(
    store: Store,
    env: Record<string, string> = {},
    options: { micro?: boolean } = {},
  ) {
    const started = await startStorage(nats.url, store, { env, logger, ...options });
    cleanups.push(started.stop);
    return started;
  }

  async function counter(
    service: StorageService,
    name: "stored" | "duplicates" | "received",
  ): Promise<number> {
    return (await service.metrics[name].get()).values.reduce((sum, v) => sum + v.value, 0);
  }

  async function total(store: Store): Promise<number> {
    return (await store.stats()).total_events;
  }

  async function consumerState(durable = "storage") {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info("MARKET", `${durable}_market_all`);
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  }

  it("stores every published event once and answers storage.* queries over NATS", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    cleanups.push(() => store.close());
    await startService(store, { STORAGE_BATCH_SIZE: "100" });
    const trades = makeTrades(500, { startMs: Date.parse("2024-03-01T00:00:00Z") });
    await publishAll(jetstream(nc), trades);
    await waitFor(async () => (await total(store)) === 500, { message: "500 events stored" });
    await waitFor(async () => (await consumerState()).ackPending === 0, { message: "all acked" });

    const stats = await request(nc, "storage.stats", {});
    expect(stats.json).toMatchObject({ total_events: 500, by_type: { trade: 500 }, consumer_lag: 0 });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await request(nc, "storage.events", {
        event_type: "trade",
        limit: 150,
        ...(cursor ? { cursor } : {}),
      });
      const body = page.json as { data: StandardEvent[]; next_cursor: string | null };
      seen.push(...body.data.map((e) => e.event_id));
      cursor = body.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual(trades.map((t) => t.event_id));

    const latest = await request(nc, "storage.latest", { event_type: "trade" });
    expect((latest.json as { data: StandardEvent[] }).data.map((e) => e.event_id)).toEqual([
      trades.at(-1)!.event_id,
    ]);
    const markets = await request(nc, "storage.markets", {});
    expect((markets.json as { data: { symbol: string }[] }).data.map((m) => m.symbol)).toEqual(["BTC-USD"]);

    const bad = await request(nc, "storage.events", { limit: 100_000 });
    expect(bad.errorCode).toBe("400");
    expect(bad.json).toMatchObject({ error: { code: "BAD_REQUEST" } });
    const badCursor = await request(nc, "storage.candles", {
      symbol: "BTC-USD",
      interval: "1m",
      cursor: "zzz",
    });
    expect(badCursor.json).toMatchObject({ error: { code: "BAD_REQUEST", message: "invalid cursor" } });
  });

  it("dead-letters poison messages with an error event and keeps the stream moving", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    cleanups.push(() => store.close());
    const dead: { subject: string; data: string }[] = [];
    const sub = nc.subscribe("deadletter.>", {
      callback: (_e, m) => {
        dead.push({ subject: m.subject, data: m.string() });
      },
    });
    cleanups.push(async () => sub.unsubscribe());
    await nc.flush();
    await startService(store, { STORAGE_BATCH_SIZE: "50" });
    const js = jetstream(nc);
    const [good1, good2, wrongSubject] = makeTrades(3);
    await publishAll(js, [good1!]);
    await js.publish("market.trade.test.BTC-USD", Buffer.from("{not json"));
    await js.publish("market.trade.other.ETH-USD", Buffer.from(JSON.stringify(wrongSubject)));
    await publishAll(js, [good2!]);

    await waitFor(async () => (await store.stats()).by_type.error === 2, {
      message: "2 error events stored",
    });
    await waitFor(async () => (await total(store)) === 4, { message: "2 trades + 2 error events" });
    await waitFor(() => dead.length === 2, { message: "2 dead letters" });
    expect(dead.map((d) => d.subject).sort()).toEqual([
      "deadletter.market.trade.other.ETH-USD",
      "deadletter.market.trade.test.BTC-USD",
    ]);
    expect(dead.find((d) => d.subject.endsWith("BTC-USD"))!.data).toBe("{not json");
    const errors = await store.page({ event_type: "error", order: "asc", limit: 10 });
    for (const e of errors.events as StandardEvent[]) {
      expect(e.source).toBe("storage-service");
      expect(e.payload).toMatchObject({ error_code: "MALFORMED_MESSAGE" });
    }
    const trades = await store.page({ event_type: "trade", order: "asc", limit: 10 });
    expect((trades.events as StandardEvent[]).map((e) => e.event_id)).toEqual([
      good1!.event_id,
      good2!.event_id,
    ]);
    await waitFor(async () => (await consumerState()).ackPending === 0, {
      message: "poison terminated, rest acked",
    });
  });

  it("holds back while the database is down (not ready, bounded buffer) and loses nothing", async () => {
    const store = new FlakyStore({ path: ":memory:" });
    cleanups.push(() => store.close());
    const { service, health } = await startService(store, {
      STORAGE_BATCH_SIZE: "100",
      STORAGE_MAX_BACKOFF: "200ms",
    });
    const js = jetstream(nc);
    await publishAll(js, makeTrades(200));
    await waitFor(async () => (await total(store)) === 200, { message: "first 200 stored" });
    expect(health.ready).toBe(true);

    store.down = true;
    await publishAll(js, makeTrades(2_000));
    await waitFor(() => health.snapshot().checks[DATABASE_HEALTH_CHECK]?.ok === false, {
      message: "not ready",
    });
    expect(health.ready).toBe(false);
    // Pulling stops at (consumers + 1) batches buffered, plus the batches being written (insert
    // concurrency 2); the rest waits on the server.
    const bound = (3 + 1) * 100 + 2 * 100;
    await waitFor(async () => (await consumerState()).pending >= 2_000 - bound, {
      message: "held on the server",
    });
    expect((await service.metrics.buffered.get()).values[0]!.value).toBeLessThanOrEqual(400);
    expect(await counter(service, "received")).toBeLessThanOrEqual(200 + bound);

    store.down = false;
    await waitFor(async () => (await total(store)) === 2_200, {
      timeoutMs: 30_000,
      message: "all 2200 stored",
    });
    await waitFor(() => health.ready, { message: "ready again" });
    expect(await counter(service, "stored")).toBe(2_200);
  });

  it("waits for a database that is not up yet at start", async () => {
    const store = new FlakyStore({ path: ":memory:" });
    store.migrationFailures = 2;
    cleanups.push(() => store.close());
    const { health } = await startService(store, { STORAGE_MAX_BACKOFF: "100ms" });
    expect(store.failedMigrations).toBe(2);
    await publishAll(jetstream(nc), makeTrades(10));
    await waitFor(async () => (await total(store)) === 10, { message: "stored after the late start" });
    expect(health.snapshot().checks[DATABASE_HEALTH_CHECK]?.ok).toBe(true);
  });

  it("graceful stop writes and acks the batch in hand", async () => {
    const store = new SqliteStore({ path: ":memory:" });
    cleanups.push(() => store.close());
    const { stop } = await startService(store, { STORAGE_BATCH_SIZE: "50", STORAGE_FLUSH_MS: "500ms" });
    await publishAll(jetstream(nc), makeTrades(1_000));
    await waitFor(async () => (await total(store)) > 0, { message: "ingest started" });
    await stop();
    const stored = await total(store);
    const state = await consumerState();
    expect(state.ackPending).toBe(0);
    expect(state.pending + stored).toBe(1_000);
  });

  it("replicas share the durable consumer and store each event once (PostgreSQL)", async () => {
    const db = await startPostgres();
    cleanups.push(() => db.stop());
    const stores = [
      new PostgresStore({ url: db.url, poolSize: 2 }),
      new PostgresStore({ url: db.url, poolSize: 2 }),
    ];
    for (const s of stores) cleanups.push(() => s.close());
    // Both start (and migrate) at once.
    const replicas = await Promise.all(
      stores.map((s) => startService(s, { STORAGE_BATCH_SIZE: "100", DATABASE_URL: db.url })),
    );
    await publishAll(
      jetstream(nc),
      makeTrades(3_000, { startMs: Date.parse("2024-03-01T00:00:00Z"), stepMs: 60_000 }),
    );
    await waitFor(async () => (await total(stores[0]!)) === 3_000, {
      timeoutMs: 30_000,
      message: "3000 stored",
    });
    await waitFor(async () => (await consumerState()).ackPending === 0, { message: "all acked" });
    const inserted = (await Promise.all(replicas.map((r) => counter(r.service, "stored")))).reduce(
      (a, b) => a + b,
      0,
    );
    expect(inserted).toBe(3_000);
    expect(EVENT_TYPES).toContain("trade");
  });
});
