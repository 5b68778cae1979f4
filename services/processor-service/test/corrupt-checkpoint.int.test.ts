import { NatsEventBus } from "@market-scraper/bus";
import type { StandardEvent } from "@market-scraper/events";
import { createLogger, createMetricsRegistry, parseEnv } from "@market-scraper/runtime";
import { type NatsServerHandle, makeTrade, startNats, waitFor } from "@market-scraper/testkit";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processorEnv } from "../src/config.js";
import { registerProcessorMetrics } from "../src/processor-metrics.js";
import { createProcessorService } from "../src/service.js";
import { publishAll, readProcessed, readStream } from "./service-harness.js";

let nats: NatsServerHandle;
beforeAll(async () => {
  nats = await startNats({ isolated: true });
});
afterAll(async () => {
  await nats.stop();
});

const config = parseEnv(processorEnv, {
  PROCESSORS: "validate,dedup,ohlcv",
  OHLCV_INTERVALS: "1m",
  OHLCV_LATENESS_MS: "0",
  PROCESSOR_GROUP: "corrupt",
});
const trade = (second: number, price: number) =>
  makeTrade({
    source: "hyperliquid",
    symbol: "BTC-USD",
    timestamp: new Date(Date.parse("2024-01-15T10:00:00Z") + second * 1000),
    payload: { trade_id: `t${second}`, price, volume: 0.5 },
  });

describe("a corrupt checkpoint in the KV bucket", () => {
  it("is reported (log, metric, error event) and the symbol starts clean instead of making NaN candles", async () => {
    const bus = await NatsEventBus.connect({ servers: nats.url });
    const nc = bus.connection;
    const silent = createLogger({ service: "processor-service", level: "silent" });
    // First run: an open 10:00 bucket is checkpointed at stop.
    const first = createProcessorService({ bus, nc, config, logger: silent });
    await first.start();
    await publishAll(bus, [trade(10, 100), trade(20, 101)]);
    await waitFor(() => first.consumerStats()?.position === 2);
    await first.stop();

    // What a NaN written by a buggy version looks like once it went through JSON: null.
    const kv = await new Kvm(nc).open("processor_checkpoints");
    const keys: string[] = [];
    for await (const k of await kv.keys("corrupt.key.>")) keys.push(k);
    expect(keys).toHaveLength(1);
    const saved = (await kv.get(keys[0]!))!.json<{ state: { ohlcv: { buckets: { "1m": unknown[][] } } } }>();
    const row = saved.state.ohlcv.buckets["1m"][0]!;
    row[4] = null; // high
    row[5] = null; // low
    await kv.put(keys[0]!, JSON.stringify(saved));

    // Second run: restores the symbol, then trades close 10:00 and 10:01.
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      service: "processor-service",
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    const registry = createMetricsRegistry({ service: "processor-service", collectDefault: false });
    const second = createProcessorService({ bus, nc, config, logger });
    registerProcessorMetrics(registry, second);
    await second.start();
    await publishAll(bus, [trade(55, 102), trade(65, 103), trade(125, 104)]);
    await waitFor(() => second.consumerStats()?.position === 5);
    await second.stop();

    const candles = (await readProcessed(nc, "processed.ohlcv.>")) as StandardEvent<"ohlcv">[];
    expect(candles.map((c) => [c.payload.timestamp, c.payload.trades])).toEqual([
      ["2024-01-15T10:00:00.000Z", 1], // clean: only what came after the checkpoint
      ["2024-01-15T10:01:00.000Z", 1],
    ]);
    for (const { payload } of candles) {
      for (const v of [payload.open, payload.high, payload.low, payload.close, payload.volume])
        expect(Number.isFinite(v)).toBe(true);
    }
    expect(candles[0]!.payload).toMatchObject({ open: 102, high: 102, low: 102, close: 102 });

    const errors = (await readStream(nc, "SYSTEM", "system.error.>")) as StandardEvent<"error">[];
    expect(errors.map((e) => e.payload.error_code)).toEqual(["CORRUPT_CHECKPOINT"]);
    expect(errors[0]!.payload.details).toMatchObject({
      kind: "key",
      kv_key: keys[0],
      source: "hyperliquid",
      symbol: "BTC-USD",
    });
    expect(errors[0]!.payload.message).toContain("buckets.1m[0]");

    expect(second.corruptCheckpoints()).toEqual(new Map([["key", 1]]));
    expect(await registry.metrics()).toMatch(
      /^market_scraper_processor_corrupt_checkpoints_total\{[^}]*kind="key"[^}]*\} 1$/m,
    );
    const report = lines.find((l) => String(l.msg).startsWith("corrupt checkpoint"));
    expect(report).toMatchObject({
      level: "error",
      source: "hyperliquid",
      symbol: "BTC-USD",
      err: { type: "ProcessorError", code: "CORRUPT_CHECKPOINT" },
    });
    await bus.close();
  });
});
