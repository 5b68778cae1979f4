import { NatsEventBus } from "@market-scraper/bus";
import { type NatsServerHandle, makeTrade, startNats, waitFor } from "@market-scraper/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
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

  it("replaces a pull that went silent without a disconnect (its consumer deleted), not ready meanwhile", async () => {
    const bus = await NatsEventBus.connect({ servers: nats.url });
    const trade = (i: number) =>
      makeTrade({
        symbol: "SILENT-USD",
        timestamp: new Date(Date.parse("2024-04-01T00:00:00.000Z") + i * 1000),
        payload: { trade_id: `silent-${i}` },
      });
    const health: [boolean, string | undefined][] = [];
    const resumed: object[] = [];
    const consumer = new PartitionedConsumer({
      nc: bus.connection,
      bus,
      processor: pipeline(),
      store: new MemoryCheckpointStore(),
      partition: SINGLE_PARTITION,
      logger: {
        ...silent,
        info: (obj, msg) => void (msg === "partition consumer resumed" && resumed.push(obj)),
      },
      start: "new",
      pullExpiresMs: 2000, // a lost consumer fails the pull within its idle heartbeats (every second)
      onHealth: (ok, detail) => health.push([ok, detail]),
    });
    await consumer.start();
    await bus.publish(trade(0));
    await waitFor(() => consumer.stats().processed === 1);
    expect(health.at(-1)).toEqual([true, undefined]);

    // The server loses the consumer (as after a restart without its memory consumers, or an operator's delete).
    const before = health.length;
    const jsm = await jetstreamManager(bus.connection);
    for await (const info of jsm.consumers.list("MARKET")) await jsm.consumers.delete("MARKET", info.name);
    for (let i = 1; i <= 5; i++) await bus.publish(trade(i));
    await bus.flush();
    await waitFor(() => consumer.stats().processed === 6, {
      timeoutMs: 20_000,
      message: "the trades published after the delete, processed",
    });
    const down = health.slice(before).filter(([ok]) => !ok);
    expect(down.length).toBeGreaterThan(0);
    expect(down[0]![1]).toMatch(/pull failed/);
    await waitFor(() => health.at(-1)?.[0] === true);
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({ stalled: expect.stringMatching(/pull failed/) });
    await consumer.stop();
    await bus.close();
  });
});
