import { MemoryEventBus } from "@market-scraper/bus";
import { type StandardEvent, markProcessed } from "@market-scraper/events";
import { HealthState, createLogger, createMetricsRegistry, parseEnv } from "@market-scraper/runtime";
import {
  makeCustom,
  makeHeartbeat,
  makeOhlcv,
  makeTrade,
  makeTrades,
  waitFor,
} from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { storageEnv } from "../config.js";
import { type StorageService, createStorageService } from "../service.js";
import type { EventRow } from "../store/event-row.js";
import { SqliteStore, type SqliteStoreOptions } from "../store/sqlite-store.js";
import { StoreError } from "../store/store-error.js";
import { DATABASE_HEALTH_CHECK } from "./ingest-worker.js";

const logger = createLogger({ service: "test", level: "silent" });

/** A SQLite store whose inserts can be held (a gate) or made to fail, to observe the ingest's behaviour. */
class ControlledStore extends SqliteStore {
  gate: Promise<void> | null = null;
  /** Thrown by every insert while set. */
  failing: StoreError | null = null;
  rejectIds = new Set<string>();
  inserts: number[] = [];

  constructor(options: Omit<SqliteStoreOptions, "path"> = {}) {
    super({ path: ":memory:", ...options });
  }

  override async insert(rows: readonly EventRow[]): Promise<number> {
    if (this.gate !== null) await this.gate;
    if (this.failing !== null) throw this.failing;
    if (rows.some((r) => this.rejectIds.has(r.event_id)))
      throw new StoreError("REJECTED", "value out of range");
    this.inserts.push(rows.length);
    return super.insert(rows);
  }
}

interface Running {
  bus: MemoryEventBus;
  store: ControlledStore;
  service: StorageService;
  health: HealthState;
}

let running: Running | undefined;
let releaseGate: (() => void) | undefined;

/** Holds every insert until the returned function is called. */
function holdInserts(store: ControlledStore): () => void {
  store.gate = new Promise<void>((resolve) => (releaseGate = resolve));
  return () => {
    store.gate = null;
    releaseGate?.();
  };
}

async function start(
  env: Record<string, string> = {},
  busOptions = {},
  store = new ControlledStore(),
): Promise<Running> {
  const bus = new MemoryEventBus(busOptions);
  const health = new HealthState();
  const service = createStorageService({
    ingest: { kind: "bus", bus },
    store,
    logger,
    health,
    registry: createMetricsRegistry({ service: "test", collectDefault: false }),
    config: parseEnv(storageEnv, { DATABASE_URL: "sqlite::memory:", STORAGE_FLUSH_MS: "10ms", ...env }),
  });
  await service.start();
  running = { bus, store, service, health };
  return running;
}

afterEach(async () => {
  if (running === undefined) return;
  running.store.gate = null;
  running.store.failing = null;
  releaseGate?.();
  await running.service.stop();
  await running.bus.close();
  await running.store.close();
  running = undefined;
});

async function storedIds(store: SqliteStore, stage?: "market" | "processed" | "system"): Promise<string[]> {
  const page = await store.page({ order: "asc", limit: 1000, ...(stage === undefined ? {} : { stage }) });
  return (page.events as StandardEvent[]).map((e) => e.event_id);
}

const counter = async (metric: { get(): Promise<{ values: { value: number }[] }> }) =>
  (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);

describe("storage service with ingest over an EventBus", () => {
  it("stores the events of STORAGE_SUBJECTS once each, in their stage, and answers queries", async () => {
    const { bus, store, service } = await start();
    const trade = makeTrade({ symbol: "BTC-USD" });
    const processed = markProcessed(trade);
    const candle = markProcessed(makeOhlcv({ payload: { interval: "1m" } }));
    const heartbeat = makeHeartbeat();
    const custom = makeCustom(); // custom.> is not in the default STORAGE_SUBJECTS
    for (const event of [trade, processed, candle, heartbeat, custom, trade]) await bus.publish(event);

    await waitFor(async () => (await store.stats()).total_events === 4, { message: "4 rows" });
    expect(await storedIds(store, "market")).toEqual([trade.event_id]);
    expect((await storedIds(store, "processed")).sort()).toEqual(
      [processed.event_id, candle.event_id].sort(),
    );
    expect(await storedIds(store, "system")).toEqual([heartbeat.event_id]);
    // The trade was delivered twice: the second insert was skipped.
    await waitFor(async () => (await counter(service.metrics.duplicates)) === 1, { message: "duplicate" });
    expect(await counter(service.metrics.stored)).toBe(4);

    const page = (await service.queries.run("candles", { symbol: "BTC-USD", interval: "1m" })) as {
      data: StandardEvent[];
    };
    expect(page.data.map((e) => e.event_id)).toEqual([candle.event_id]);
  });

  it("honours STORAGE_SUBJECTS patterns", async () => {
    const { bus, store } = await start({ STORAGE_SUBJECTS: "processed.trade.>,custom.>" });
    const trade = makeTrade();
    const processed = markProcessed(makeTrade());
    const candle = markProcessed(makeOhlcv());
    const custom = makeCustom();
    for (const event of [trade, processed, candle, custom, makeHeartbeat()]) await bus.publish(event);
    await waitFor(async () => (await store.stats()).total_events === 2, { message: "2 rows" });
    await running!.service.stop();
    expect((await storedIds(store)).sort()).toEqual([processed.event_id, custom.event_id].sort());
  });

  it("writes full batches at once and the partial rest at stop", async () => {
    const { bus, store, service } = await start({ STORAGE_BATCH_SIZE: "3", STORAGE_FLUSH_MS: "1h" });
    const trades = makeTrades(5);
    for (const trade of trades) await bus.publish(trade);
    await waitFor(async () => (await store.stats()).total_events === 3, { message: "first batch" });
    expect(store.inserts).toEqual([3]); // the other two wait for STORAGE_FLUSH_MS (1 h) or stop

    await service.stop();
    expect(store.inserts).toEqual([3, 2]);
    expect(await storedIds(store)).toEqual(trades.map((t) => t.event_id));
  });

  it("pushes back on publishers while the database is slow, and loses nothing", async () => {
    const { bus, store, service } = await start(
      { STORAGE_BATCH_SIZE: "2", STORAGE_FLUSH_MS: "1ms" },
      { queueSize: 3 },
    );
    const release = holdInserts(store);
    const trades = makeTrades(20);
    let settled = 0;
    const publishes = trades.map((t) => bus.publish(t).then(() => settled++));
    // At most 2 × batch rows held (the batch being written and the next one), the handler waiting for
    // room, 3 events queued in the bus: the other publishes wait.
    await waitFor(async () => (await service.metrics.buffered.get()).values[0]?.value === 4, {
      message: "the ingest buffer full",
    });
    await waitFor(() => settled >= 3, { message: "the bus queue full" });
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBeLessThanOrEqual(4 + 3);
    expect((await store.stats()).total_events).toBe(0);

    release();
    await Promise.all(publishes);
    await waitFor(async () => (await store.stats()).total_events === 20, { message: "all stored" });
    expect(await storedIds(store)).toEqual(trades.map((t) => t.event_id));
  });

  it("retries while the database is unavailable, turning readiness off meanwhile", async () => {
    const { bus, store, health, service } = await start({ STORAGE_MAX_BACKOFF: "20ms" });
    store.failing = new StoreError("UNAVAILABLE", "connection refused");
    const trades = makeTrades(4);
    for (const trade of trades) await bus.publish(trade);
    await waitFor(async () => (await counter(service.metrics.insertFailures)) >= 2, { message: "retries" });
    expect(health.snapshot().checks[DATABASE_HEALTH_CHECK]?.ok).toBe(false);
    expect(health.ready).toBe(false);

    store.failing = null;
    await waitFor(async () => (await store.stats()).total_events === 4, { message: "stored after retries" });
    expect(health.snapshot().checks[DATABASE_HEALTH_CHECK]?.ok).toBe(true);
    expect(await storedIds(store)).toEqual(trades.map((t) => t.event_id));
  });

  it("holds the rows while SQLite is read-only (an outage, not bad rows), then stores them all", async () => {
    let connection: Parameters<NonNullable<SqliteStoreOptions["onOpen"]>>[0] | undefined;
    const { bus, store, health, service } = await start(
      { STORAGE_MAX_BACKOFF: "20ms" },
      {},
      new ControlledStore({ onOpen: (db) => (connection = db) }),
    );
    connection!.pragma("query_only = 1");
    const trades = makeTrades(6);
    for (const trade of trades) await bus.publish(trade);
    await waitFor(async () => (await counter(service.metrics.insertFailures)) >= 2, { message: "retries" });
    expect(health.snapshot().checks[DATABASE_HEALTH_CHECK]).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/readonly/),
    });
    expect(await counter(service.metrics.deadLetters)).toBe(0);

    connection!.pragma("query_only = 0");
    await waitFor(async () => (await store.stats()).total_events === 6, {
      message: "stored after the outage",
    });
    expect(await storedIds(store)).toEqual(trades.map((t) => t.event_id));
    expect(await counter(service.metrics.deadLetters)).toBe(0);
    expect(health.ready).toBe(true);
  });

  it("counts and skips a row the database rejects, keeping the rest of its batch", async () => {
    const { bus, store, service } = await start();
    const trades = makeTrades(3);
    store.rejectIds.add(trades[1]!.event_id.toLowerCase());
    for (const trade of trades) await bus.publish(trade);
    await waitFor(async () => (await store.stats()).total_events === 2, { message: "2 stored" });
    expect(await storedIds(store)).toEqual([trades[0]!.event_id, trades[2]!.event_id]);
    expect(await counter(service.metrics.deadLetters)).toBe(1);
  });
});
