import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MemoryEventBus } from "@market-scraper/bus";
import { ReplayConnector } from "@market-scraper/connector-service";
import { type EventType, type StandardEvent, isMarketDataType } from "@market-scraper/events";
import { HealthState, createLogger, createMetricsRegistry } from "@market-scraper/runtime";
import { SqliteStore } from "@market-scraper/storage-service";
import { FakeHyperliquidServer, type FakeHlTrade, waitFor } from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { type Standalone, createStandalone, parseStandaloneEnv, writeSampleCapture } from "../src/index.js";
import { StreamClient } from "@market-scraper/testkit";

// The four services in one process over MemoryEventBus and SQLite, as `standalone` wires them, fed by
// the fake Hyperliquid server or a replayed capture. Observed through the gateway only (REST and WS).

const logger = createLogger({ service: "standalone-test", level: "silent" });
const MINUTE = 60_000;

interface Running {
  app: Standalone;
  bus: MemoryEventBus;
  store: SqliteStore;
  url: string;
  health: HealthState;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(env: Record<string, string>, dbPath = ":memory:"): Promise<Running> {
  const parsed = parseStandaloneEnv({ LOG_LEVEL: "silent", STORAGE_FLUSH_MS: "20ms", ...env });
  const config = { ...parsed, gateway: { ...parsed.gateway, HTTP_PORT: 0 } };
  const bus = new MemoryEventBus();
  const store = new SqliteStore({ path: dbPath });
  const health = new HealthState();
  const app = createStandalone({
    config,
    bus,
    store,
    logger,
    registry: createMetricsRegistry({ service: "standalone-test", collectDefault: false }),
    health,
    host: "127.0.0.1",
  });
  await app.start();
  let stopped = false;
  const running: Running = { app, bus, store, url: app.gateway.url, health };
  cleanups.push(async () => {
    if (!stopped) await stop(running);
    stopped = true;
  });
  return running;
}

async function stop(running: Running): Promise<void> {
  await running.app.stop();
  await running.bus.close();
  await running.store.close();
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

function trade(tid: number, time: number, px: string, sz: string): FakeHlTrade {
  return {
    coin: "BTC",
    side: tid % 2 === 0 ? "A" : "B",
    px,
    sz,
    time,
    hash: `0x${tid.toString(16).padStart(64, "0")}`,
    tid,
  };
}

describe("standalone over MemoryEventBus and SQLite", () => {
  it("takes trades from the exchange to storage, candles and a WebSocket client", async () => {
    const fake = await FakeHyperliquidServer.start();
    cleanups.push(() => fake.close());
    const { app, url } = await start({
      HYPERLIQUID_WS_URL: fake.wsUrl,
      HYPERLIQUID_REST_URL: fake.restUrl,
      HYPERLIQUID_SYMBOLS: "BTC",
      HYPERLIQUID_CHANNELS: "trade",
      OHLCV_INTERVALS: "1m",
    });
    await waitFor(() => fake.hasSubscription("trades", "BTC"), { message: "subscribed to BTC trades" });
    const client = await StreamClient.open(`${url.replace("http", "ws")}/v1/stream`);
    cleanups.push(() => client.close());
    await client.subscribe({ event_types: ["trade", "ohlcv"], symbols: ["BTC-USD"] });

    const t0 = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;
    const trades = [
      trade(1, t0 + 1_000, "100.5", "0.1"),
      trade(2, t0 + 20_000, "102.0", "0.2"),
      trade(3, t0 + 40_000, "99.5", "0.3"),
      trade(4, t0 + MINUTE + 5_000, "101.0", "0.25"),
      trade(5, t0 + 2 * MINUTE + 10_000, "103.0", "1"), // closes the second bucket (past the 2 s allowance)
    ];
    fake.pushTrades(trades);

    // Stored: the five processed trades, with the exchange's ids and prices.
    const stored = await waitFor(
      async () => {
        const page = await getJson<{ data: StandardEvent[] }>(`${url}/v1/markets/BTC-USD/trades`);
        return page.data.length === 5 ? page.data : undefined;
      },
      { message: "5 stored trades" },
    );
    expect(stored.map((e) => (e.payload as { trade_id: string }).trade_id)).toEqual(
      trades.map((t) => String(t.tid)),
    );
    expect(stored.every((e) => e.processed_at !== null)).toBe(true);

    // The exact closed candles of the first two minutes.
    const candles = await waitFor(
      async () => {
        const page = await getJson<{ data: StandardEvent[] }>(`${url}/v1/markets/BTC-USD/ohlcv?interval=1m`);
        return page.data.length === 2 ? page.data : undefined;
      },
      { message: "2 candles" },
    );
    expect(candles.map((c) => c.payload)).toEqual([
      expect.objectContaining({
        timestamp: new Date(t0).toISOString(),
        open: 100.5,
        high: 102,
        low: 99.5,
        close: 99.5,
        volume: 0.6,
        closed: true,
        trades: 3,
      }),
      expect.objectContaining({
        timestamp: new Date(t0 + MINUTE).toISOString(),
        open: 101,
        high: 101,
        low: 101,
        close: 101,
        volume: 0.25,
        closed: true,
        trades: 1,
      }),
    ]);

    // The WebSocket client saw the same processed trades and candles live.
    await waitFor(() => client.events().filter((e) => e.event_type === "trade").length === 5, {
      message: "5 live trades",
    });
    await waitFor(() => client.events().filter((e) => e.event_type === "ohlcv").length === 2, {
      message: "2 live candles",
    });
    expect(
      client
        .events()
        .filter((e) => e.event_type === "ohlcv")
        .map((e) => e.event_id),
    ).toEqual(candles.map((c) => c.event_id));

    // /readyz, /metrics on the gateway's one port.
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain("market_scraper_storage_events_stored_total");
    expect(metrics).toContain("market_scraper_processor_events_received_total");
    expect(metrics).toContain("market_scraper_connector_messages_in_total");
    expect(metrics).toContain("market_scraper_bus_published_total");
    expect(app.processor.mode).toBe("bus");
  });

  it("replays a capture, and at stop stores the open candles as partial ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "standalone-test-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const capture = join(dir, "capture.jsonl");
    const trades = writeSampleCapture(capture, {
      durationMs: 150_000,
      tradesPerSecond: 1,
      bookEveryMs: 10_000,
    });
    const dbPath = join(dir, "standalone.db");
    const running = await start({ REPLAY_FILE: capture, REPLAY_SPEED: "max", OHLCV_INTERVALS: "1m" }, dbPath);
    const { url } = running;
    await waitFor(
      async () => {
        const stats = await getJson<{ data: { event_types: string[] }[] }>(`${url}/v1/markets`);
        const page = await getJson<{ data: unknown[]; next_cursor: string | null }>(
          `${url}/v1/events?event_type=trade&stage=processed&limit=1000`,
        );
        return stats.data.length === 2 && page.data.length === trades;
      },
      { message: `${trades} processed trades stored` },
    );
    // The capture is dated in the past: processing_time_ms is how long processing took, not the age.
    const processed = await getJson<{ data: StandardEvent[] }>(
      `${url}/v1/events?event_type=trade&stage=processed&limit=1000`,
    );
    for (const trade of processed.data) {
      expect(trade.processing_time_ms).toBeGreaterThanOrEqual(0);
      expect(trade.processing_time_ms).toBeLessThan(60_000);
      expect(Date.parse(trade.processed_at!) - Date.parse(trade.timestamp)).toBeGreaterThan(86_400_000);
    }
    // 150 s from 06:40:00: two closed 1m candles per coin while running; the third bucket is open.
    const closed = await getJson<{ data: StandardEvent[] }>(`${url}/v1/markets/BTC-USD/ohlcv?interval=1m`);
    expect(closed.data.map((c) => (c.payload as { closed: boolean }).closed)).toEqual([true, true]);

    await stop(running);
    const reopened = new SqliteStore({ path: dbPath });
    cleanups.push(() => reopened.close());
    const page = await reopened.page({
      stage: "processed",
      event_type: "ohlcv",
      symbol: "BTC-USD",
      interval: "1m",
      order: "asc",
      limit: 10,
    });
    expect((page.events as StandardEvent[]).map((c) => (c.payload as { closed: boolean }).closed)).toEqual([
      true,
      true,
      false,
    ]);
  });

  it("stores nothing twice when the shipped sample capture is replayed twice into one database", async () => {
    // Issue 13: order books and tickers doubled (180 → 360, 358 → 716) while trades and candles did not.
    const dir = mkdtempSync(join(tmpdir(), "standalone-test-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dbPath = join(dir, "twice.db");
    const sample = fileURLToPath(new URL("../fixtures/sample-capture.jsonl", import.meta.url));
    const replayInto = async (): Promise<Record<string, number>> => {
      const running = await start({ REPLAY_FILE: sample, REPLAY_SPEED: "max" }, dbPath);
      const replay = running.app.connector.connectors[0];
      expect(replay).toBeInstanceOf(ReplayConnector);
      await (replay as ReplayConnector).done();
      await stop(running);
      const reopened = new SqliteStore({ path: dbPath });
      const stats = await reopened.stats();
      await reopened.close();
      // Market data only: each run adds its own status events (connecting, subscribed, stopped…).
      return Object.fromEntries(
        Object.entries(stats.by_type).filter(([type]) => isMarketDataType(type as EventType)),
      );
    };
    const once = await replayInto();
    expect(Object.keys(once)).toEqual(expect.arrayContaining(["trade", "order_book", "ticker", "ohlcv"]));
    expect(await replayInto()).toEqual(once);
  });
});
