import { MemoryEventBus } from "@market-scraper/bus";
import type { StandardEvent } from "@market-scraper/events";
import { createLogger, createMetricsRegistry, parseEnv } from "@market-scraper/runtime";
import { makeOhlcv, makeTrade, waitFor } from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import { processorEnv } from "./config.js";
import { registerProcessorMetrics } from "./processor-metrics.js";
import { createProcessorService } from "./service.js";

const logger = createLogger({ service: "processor-service", level: "silent" });

describe("createProcessorService on a MemoryEventBus (standalone)", () => {
  it("runs PROCESSORS as one pipeline and flushes open buckets as partial candles at stop", async () => {
    const bus = new MemoryEventBus();
    const seen: StandardEvent[] = [];
    await bus.subscribe({ stage: "processed" }, (e) => {
      seen.push(e);
    });
    const config = parseEnv(processorEnv, { OHLCV_INTERVALS: "1m", OHLCV_LATENESS_MS: "0" });
    const service = createProcessorService({ bus, logger, config });
    expect(service.mode).toBe("bus");
    await service.start();
    const trade = (iso: string, id: string) =>
      makeTrade({ timestamp: iso, payload: { trade_id: id, volume: 0.1 } });
    const exchangeCandle = makeOhlcv({ timestamp: "2024-01-15T10:30:00.000Z" });
    for (const e of [
      exchangeCandle, // not consumed: it would collide with the computed candles
      trade("2024-01-15T10:30:00.000Z", "1"),
      trade("2024-01-15T10:30:30.000Z", "1"), // repeat
      trade("2024-01-15T10:31:00.000Z", "2"),
    ]) {
      await bus.publish(e);
    }
    await waitFor(() => seen.filter((e) => e.event_type === "trade").length === 2);
    await service.stop();
    const candles = seen.filter((e) => e.event_type === "ohlcv").map((e) => e.payload);
    expect(candles).toEqual([
      expect.objectContaining({ timestamp: "2024-01-15T10:30:00.000Z", trades: 1, closed: true }),
      expect.objectContaining({ timestamp: "2024-01-15T10:31:00.000Z", trades: 1, closed: false }),
    ]);
    const stats = service.processorStats();
    expect(stats.get("dedup")).toMatchObject({ received: 3, dropped: 1 });
    expect(stats.get("validate+dedup+ohlcv")).toMatchObject({ received: 3 });
    expect(seen.some((e) => e.parent_event_id === exchangeCandle.event_id)).toBe(false);
    expect(service.consumerStats()).toBeNull();
    await bus.close();
  });

  it("stamps the processing duration (not the event's age) and puts the age in a histogram", async () => {
    const bus = new MemoryEventBus();
    const seen: StandardEvent[] = [];
    await bus.subscribe({ stage: "processed", event_types: ["trade"] }, (e) => {
      seen.push(e);
    });
    const now = Date.parse("2024-01-17T10:30:00.000Z"); // the trade is replayed two days later
    const config = parseEnv(processorEnv, { OHLCV_INTERVALS: "1m" });
    const service = createProcessorService({ bus, logger, config, clock: { now: () => now } });
    const registry = createMetricsRegistry({ service: "processor-service" });
    registerProcessorMetrics(registry, service);
    await service.start();
    const replayed = makeTrade({
      timestamp: "2024-01-15T10:30:00.000Z",
      payload: { received_at: new Date(now - 4).toISOString() },
    });
    await bus.publish(replayed);
    await waitFor(() => seen.length === 1);
    await service.stop();
    expect(seen[0]).toMatchObject({ processed_at: "2024-01-17T10:30:00.000Z", processing_time_ms: 4 });
    const text = await registry.metrics();
    const bucket = (le: string) =>
      new RegExp(
        `market_scraper_processor_event_age_seconds_bucket\\{le="${le}",[^}]*event_type="trade",source="${replayed.source}"\\} 1\\n`,
      );
    expect(text).toMatch(bucket("604800"));
    expect(text).not.toMatch(bucket("86400"));
    expect(text).toMatch(
      /market_scraper_processor_event_age_seconds_sum\{[^}]*event_type="trade"[^}]*\} 172800\n/,
    );
    await bus.close();
  });
});
