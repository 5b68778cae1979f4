import { MemoryEventBus } from "@market-scraper/bus";
import { EventType, type StandardEvent } from "@market-scraper/events";
import { makeOrderBook, makeTrade, waitFor } from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { deterministicId } from "./deterministic-id.js";
import { Pipeline } from "./pipeline.js";
import { Processor } from "./processor.js";
import { DedupProcessor } from "./processors/dedup-processor.js";
import { OhlcvProcessor } from "./processors/ohlcv-processor.js";
import { ValidateProcessor } from "./processors/validate-processor.js";

const clock = { now: () => Date.parse("2024-01-15T10:31:00.000Z") };

/** The seed's example: keep trades, filter out everything else. */
class TradesOnly extends Processor {
  async process(event: StandardEvent) {
    if (event.event_type === EventType.TRADE) return event;
    return null;
  }
}

class Exploding extends Processor {
  override readonly eventTypes = [EventType.TRADE];
  process(event: StandardEvent): StandardEvent {
    if (event.event_type === "trade" && event.payload.price > 60_000) throw new Error("too expensive");
    return event;
  }
}

let bus: MemoryEventBus;
afterEach(async () => {
  await bus?.close();
});

async function collect(b: MemoryEventBus) {
  const seen: StandardEvent[] = [];
  await b.subscribe("*", (e) => {
    seen.push(e);
  });
  return seen;
}

describe("Processor (the seed API)", () => {
  it("publishes what process returns on processed.<type>.<source>.<symbol>, derived from the input", async () => {
    bus = new MemoryEventBus();
    const seen = await collect(bus);
    const processor = new TradesOnly(bus, { clock });
    await processor.start();
    const trade = makeTrade({
      correlation_id: "corr-1",
      payload: { received_at: "2024-01-15T10:30:59.990Z" },
    });
    await bus.publish(trade);
    await bus.publish(makeOrderBook());
    await waitFor(() => seen.some((e) => e.processed_at));
    await processor.stop();
    const processed = seen.filter((e) => e.processed_at);
    expect(processed).toHaveLength(1);
    const out = processed[0]!;
    expect(out.event_type).toBe("trade");
    expect(out.payload).toEqual(trade.payload);
    expect(out.event_id).toBe(deterministicId("processed", trade.event_id));
    expect(out.parent_event_id).toBe(trade.event_id);
    expect(out.correlation_id).toBe("corr-1");
    expect(out.processed_at).toBe("2024-01-15T10:31:00.000Z");
    expect(out.processing_time_ms).toBe(10); // from the connector's receipt, not the age (60 s)
    expect(processor.stats()).toMatchObject({ received: 2, emitted: 1, dropped: 1, failed: 0 });
    expect(processor.name).toBe("trades-only");
  });

  it("never consumes its own processed output", async () => {
    bus = new MemoryEventBus();
    const processor = new TradesOnly(bus);
    await processor.start();
    await bus.publish(makeTrade());
    await bus.flush();
    await waitFor(() => processor.stats().received === 1);
    await processor.stop();
    expect(processor.stats().received).toBe(1);
  });

  it("turns a thrown error into a PROCESSOR_FAILED error event and keeps going", async () => {
    bus = new MemoryEventBus();
    const seen = await collect(bus);
    const processor = new Exploding(bus, { clock });
    await processor.start();
    const bad = makeTrade({ payload: { price: 70_000 } });
    await bus.publish(bad);
    await bus.publish(makeTrade());
    await waitFor(() => processor.stats().received === 2);
    await waitFor(() => seen.filter((e) => e.event_type === "error" || e.processed_at).length === 2);
    await processor.stop();
    const error = seen.find((e) => e.event_type === "error")!;
    expect(error.event_type === "error" && error.payload.error_code).toBe("PROCESSOR_FAILED");
    expect(error.parent_event_id).toBe(bad.event_id);
    expect(error.correlation_id).toBe(bad.correlation_id);
    expect(error.source).toBe("processor-service");
    expect(seen.filter((e) => e.processed_at)).toHaveLength(1);
    expect(processor.stats()).toMatchObject({ received: 2, emitted: 1, failed: 1 });
  });

  it("chains into a pipeline: validate → dedup → ohlcv in-process, one publish per output", async () => {
    bus = new MemoryEventBus();
    const seen = await collect(bus);
    const pipeline = new Pipeline(bus, [
      new ValidateProcessor(null, { clock }),
      new DedupProcessor(),
      new OhlcvProcessor(null, { intervals: ["1m"] }),
    ]);
    expect(pipeline.name).toBe("validate+dedup+ohlcv");
    expect([...pipeline.eventTypes].sort()).toEqual([
      "derivative_ticker",
      "liquidation",
      "ohlcv",
      "order_book",
      "ticker",
      "trade",
    ]);
    await pipeline.start();
    const t1 = makeTrade({ timestamp: "2024-01-15T10:30:05Z", payload: { trade_id: "1", volume: 0.1 } });
    const dup = { ...t1, event_id: "0190f000-0000-7000-8000-000000000001" };
    const bad = makeTrade({ timestamp: "2024-01-15T10:30:06Z", payload: { trade_id: "2", price: -1 } });
    const t3 = makeTrade({ timestamp: "2024-01-15T10:31:00Z", payload: { trade_id: "3", volume: 0.2 } });
    for (const e of [t1, dup, bad, t3]) await bus.publish(e);
    await waitFor(() => seen.some((e) => e.event_type === "ohlcv"));
    await pipeline.stop();
    const outputs = seen.filter((e) => e.processed_at || e.event_type === "error");
    expect(outputs.map((e) => e.event_type)).toEqual(["trade", "error", "trade", "ohlcv"]);
    const candle = outputs[3]!;
    expect(candle.event_type === "ohlcv" && candle.payload).toMatchObject({
      open: 50_000,
      volume: 0.1,
      trades: 1,
      interval: "1m",
      closed: true,
      timestamp: "2024-01-15T10:30:00.000Z",
    });
    expect(candle.parent_event_id).toBe(t3.event_id);
    expect(candle.correlation_id).toBe(t3.correlation_id);
    const error = outputs[1]!;
    expect(error.event_type === "error" && error.payload.details["rule"]).toBe("price_positive");
    expect(pipeline.stages.map((s) => s.stats().received)).toEqual([4, 3, 2]);
    expect(pipeline.stats()).toMatchObject({ received: 4, emitted: 4, dropped: 1 });
  });
});

describe("Processor misuse", () => {
  it("throws typed errors", async () => {
    const { ProcessorError } = await import("./processor-error.js");
    await expect(new TradesOnly().start()).rejects.toBeInstanceOf(ProcessorError);
    expect(() => new Pipeline(null, [])).toThrow(ProcessorError);
    expect(() => new DedupProcessor(null, { window: 0 })).toThrow(/window/);
    expect(() => new OhlcvProcessor(null, { intervals: ["1x"] })).toThrow(/interval/);
  });
});
