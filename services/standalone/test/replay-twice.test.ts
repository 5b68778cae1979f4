import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MemoryEventBus } from "@market-scraper/bus";
import { isMarketDataType } from "@market-scraper/events";
import { HealthState, createLogger, createMetricsRegistry } from "@market-scraper/runtime";
import { SqliteStore } from "@market-scraper/storage-service";
import { afterAll, describe, expect, it } from "vitest";
import { createStandalone, parseStandaloneEnv } from "../src/index.js";

// Issue 13, point 13: replaying the same capture twice into one database stores nothing twice, for
// every event type (order books and tickers used to double while trades and candles de-duplicated).

const logger = createLogger({ service: "standalone-test", level: "silent" });
const SAMPLE = fileURLToPath(new URL("../fixtures/sample-capture.jsonl", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "standalone-replay-twice-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One standalone run: replays the whole capture at full speed into `dbPath`, then stops (flushing). */
async function replayInto(dbPath: string): Promise<Record<string, number>> {
  const parsed = parseStandaloneEnv({
    LOG_LEVEL: "silent",
    STORAGE_FLUSH_MS: "20ms",
    REPLAY_FILE: SAMPLE,
    REPLAY_SPEED: "max",
  });
  const config = { ...parsed, gateway: { ...parsed.gateway, HTTP_PORT: 0 } };
  const bus = new MemoryEventBus();
  const store = new SqliteStore({ path: dbPath });
  let finished!: () => void;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const app = createStandalone({
    config,
    bus,
    store,
    logger,
    registry: createMetricsRegistry({ service: "standalone-test", collectDefault: false }),
    health: new HealthState(),
    host: "127.0.0.1",
    onReplayFinished: () => finished(),
  });
  await app.start();
  await done;
  await app.stop();
  await bus.close();
  const stats = await store.stats();
  await store.close();
  // Market data only: each run adds its own status events (connecting, subscribed, stopped...).
  return Object.fromEntries(Object.entries(stats.by_type).filter(([type]) => isMarketDataType(type)));
}

describe("replaying the shipped sample capture twice into one SQLite store", () => {
  it("stores the same rows as replaying it once, for every event type", async () => {
    const dbPath = join(dir, "twice.db");
    const once = await replayInto(dbPath);
    expect(Object.keys(once)).toEqual(expect.arrayContaining(["trade", "order_book", "ticker", "ohlcv"]));
    const twice = await replayInto(dbPath);
    expect(twice).toEqual(once);
  });
});
