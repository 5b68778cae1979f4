import { NatsEventBus } from "@market-scraper/bus";
import { createLogger, parseEnv } from "@market-scraper/runtime";
import { type NatsServerHandle, makeOrderBook, makeTrade, startNats, waitFor } from "@market-scraper/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { processorEnv } from "../src/config.js";
import { type ProcessorService, createProcessorService } from "../src/service.js";
import { ServiceProcess, checkpointPosition, lastMarketSeq, readProcessed } from "./service-harness.js";

let nats: NatsServerHandle;
const processes: ServiceProcess[] = [];
const buses: NatsEventBus[] = [];
const services: ProcessorService[] = [];

beforeAll(async () => {
  nats = await startNats({ isolated: true });
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await Promise.all(processes.splice(0).map((p) => p.terminate()));
  await Promise.all(buses.splice(0).map((b) => b.close()));
});
afterAll(async () => {
  await nats.stop();
});

async function bus(): Promise<NatsEventBus> {
  const b = await NatsEventBus.connect({ servers: nats.url });
  buses.push(b);
  return b;
}

describe("processor-service (dist/main.js on real NATS)", () => {
  it("checkpoints open candles at SIGTERM and completes them after the restart", async () => {
    const producer = await bus();
    const nc = producer.connection;
    const env = {
      NATS_URL: nats.url,
      OHLCV_INTERVALS: "1m",
      OHLCV_LATENESS_MS: "0",
      PROCESSOR_GROUP: "graceful",
    };
    const first = await ServiceProcess.start(env);
    processes.push(first);
    const t = (iso: string, volume: number, id: string) =>
      makeTrade({
        symbol: "GRACE-USD",
        timestamp: iso,
        payload: { volume, price: 10 + volume, trade_id: id },
      });
    for (const e of [t("2024-02-01T00:00:00.000Z", 0.1, "g1"), t("2024-02-01T00:00:30.000Z", 0.2, "g2")]) {
      await producer.publish(e);
    }
    await producer.flush();
    await waitFor(async () => (await readProcessed(nc, "processed.trade.*.GRACE-USD")).length === 2);
    expect(await first.terminate()).toBe(0); // graceful: exit 0 after the final checkpoint
    expect(await checkpointPosition(nc, "p0of1", "graceful")).toBe(await lastMarketSeq(nc));
    expect(await readProcessed(nc, "processed.ohlcv.*.GRACE-USD")).toHaveLength(0);

    const second = await ServiceProcess.start(env);
    processes.push(second);
    await producer.publish(t("2024-02-01T00:01:00.000Z", 0.3, "g3"));
    await producer.flush();
    const candles = await waitFor(async () => {
      const c = await readProcessed(nc, "processed.ohlcv.*.GRACE-USD");
      return c.length === 1 ? c : null;
    });
    const candle = candles[0]!;
    expect(candle.event_type === "ohlcv" && candle.payload).toMatchObject({
      timestamp: "2024-02-01T00:00:00.000Z",
      open: 10.1,
      close: 10.2,
      volume: 0.3, // 0.1 from before the restart + 0.2, exactly
      trades: 2,
      closed: true,
    });
    // The trades before the restart were not processed twice.
    expect(await readProcessed(nc, "processed.trade.*.GRACE-USD")).toHaveLength(3);
  });

  it("serves /healthz, /readyz, /metrics and registers as a NATS micro service", async () => {
    const producer = await bus();
    const service = await ServiceProcess.start({ NATS_URL: nats.url, PROCESSOR_GROUP: "observed" });
    processes.push(service);
    await producer.publish(makeTrade({ symbol: "OBS-USD" }));
    await producer.flush();
    const base = `http://127.0.0.1:${service.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    await waitFor(async () => {
      const metrics = await (await fetch(`${base}/metrics`)).text();
      return /market_scraper_processor_events_received_total\{[^}]*processor="validate"[^}]*\} [1-9]/.test(
        metrics,
      );
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain("market_scraper_processor_consumer_lag_messages");
    expect(metrics).toContain("market_scraper_bus_published_total");
    const nc = producer.connection;
    const ping = await nc.request("$SRV.PING.processor-service", "", { timeout: 2000 });
    expect(ping.json<{ name: string }>().name).toBe("processor-service");
    const stats = await nc.request("processor.stats", "", { timeout: 2000 });
    const body = stats.json<{ partition: string; processors: Record<string, { received: number }> }>();
    expect(body.partition).toBe("p0of1");
    expect(body.processors["validate"]!.received).toBeGreaterThanOrEqual(1);
  });
});

describe("stateless processors share load in a group", () => {
  it("two replicas of validate,top-of-book take each order book exactly once", async () => {
    const producer = await bus();
    const config = parseEnv(processorEnv, { PROCESSORS: "validate,top-of-book", PROCESSOR_GROUP: "tob" });
    const logger = createLogger({ service: "processor-service", level: "silent" });
    for (let i = 0; i < 2; i++) {
      const b = await bus();
      const s = createProcessorService({ bus: b, nc: b.connection, config, logger });
      expect(s.mode).toBe("bus");
      await s.start();
      services.push(s);
    }
    const n = 3000;
    for (let i = 0; i < n; i++) {
      await producer.publish(
        makeOrderBook({ symbol: `TOB${i % 5}-USD`, payload: { bid: 1 + i, ask: 1.5 + i } }),
      );
    }
    await producer.flush();
    const received = () => services.map((s) => s.processorStats().get("top-of-book")!.received);
    await waitFor(() => received().reduce((a, b) => a + b, 0) >= n, { timeoutMs: 30_000 });
    const books = await waitFor(async () => {
      const out = await readProcessed(producer.connection, "processed.order_book.>");
      return out.length >= n ? out : null;
    });
    expect(received().reduce((a, b) => a + b, 0)).toBe(n);
    expect(new Set(books.map((b) => b.parent_event_id)).size).toBe(n);
    expect(books.every((b) => b.event_type === "order_book" && b.payload.spread === 0.5)).toBe(true);
    expect(received().every((r) => r > 0)).toBe(true);
  });
});
