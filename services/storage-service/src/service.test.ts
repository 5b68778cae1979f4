import { createLogger, createMetricsRegistry, parseEnv } from "@market-scraper/runtime";
import { makeOhlcv, makeTrade } from "@market-scraper/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { storageEnv } from "./config.js";
import { createStorageService } from "./service.js";
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
