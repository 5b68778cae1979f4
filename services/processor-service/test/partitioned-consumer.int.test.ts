import { NatsEventBus } from "@market-scraper/bus";
import { type NatsServerHandle, startNats, waitFor } from "@market-scraper/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KeyCheckpoint, MemoryCheckpointStore } from "../src/checkpoint-store.js";
import { SINGLE_PARTITION } from "../src/partition.js";
import { PartitionedConsumer } from "../src/partitioned-consumer.js";
import { Pipeline } from "../src/pipeline.js";
import { DedupProcessor } from "../src/processors/dedup-processor.js";
import { OhlcvProcessor } from "../src/processors/ohlcv-processor.js";
import { ValidateProcessor } from "../src/processors/validate-processor.js";
import { candleKey, publishAll, readProcessed, recordedTrades } from "./service-harness.js";

/** A store that fails now and then, as a KV bucket does while NATS is unreachable. */
class FlakyStore extends MemoryCheckpointStore {
  loads = 0;
  saves = 0;
  override async loadKey(source: string, symbol: string): Promise<KeyCheckpoint | null> {
    if (++this.loads === 4) throw new Error("kv get timed out");
    return super.loadKey(source, symbol);
  }
  override async saveKeys(entries: readonly KeyCheckpoint[]): Promise<void> {
    if (++this.saves === 2) throw new Error("kv put timed out");
    return super.saveKeys(entries);
  }
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const pipeline = () =>
  new Pipeline(null, [
    new ValidateProcessor(),
    new DedupProcessor(),
    new OhlcvProcessor(null, { intervals: ["1m", "5m"], latenessMs: 1000 }),
  ]);

let nats: NatsServerHandle;
beforeAll(async () => {
  nats = await startNats({ isolated: true });
});
afterAll(async () => {
  await nats.stop();
});

describe("PartitionedConsumer", () => {
  it("rewinds to its last checkpoint when the store fails, and still emits every candle once", async () => {
    const trades = recordedTrades();
    const expected = new Set<string>();
    const reference = pipeline();
    for (const t of trades) {
      for (const out of await reference.apply(t))
        if (out.event_type === "ohlcv") expected.add(candleKey(out));
    }

    const bus = await NatsEventBus.connect({ servers: nats.url });
    await publishAll(bus, trades);
    const store = new FlakyStore();
    const consumer = new PartitionedConsumer({
      nc: bus.connection,
      bus,
      processor: pipeline(),
      store,
      partition: SINGLE_PARTITION,
      logger: silent,
      checkpointEvery: 300,
    });
    await consumer.start();
    await waitFor(() => consumer.stats().position >= trades.length && store.saves > 3, { timeoutMs: 20_000 });
    await consumer.stop();
    expect(store.loads).toBeGreaterThan(4); // the failed load and the failed save were both survived
    expect(store.positions.get("p0of1")).toBe(trades.length);

    const candles = (await readProcessed(bus.connection, "processed.ohlcv.>")).map(candleKey);
    expect(new Set(candles)).toEqual(expected);
    expect(candles).toHaveLength(expected.size);
    await bus.close();
  });
});
