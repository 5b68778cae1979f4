import { NatsEventBus } from "@market-scraper/bus";
import { type NatsServerHandle, startNats, waitFor } from "@market-scraper/testkit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { partitionOf } from "../src/partition.js";
import { Pipeline } from "../src/pipeline.js";
import { DedupProcessor } from "../src/processors/dedup-processor.js";
import { OhlcvProcessor } from "../src/processors/ohlcv-processor.js";
import { ValidateProcessor } from "../src/processors/validate-processor.js";
import {
  ServiceProcess,
  candleKey,
  checkpointPosition,
  lastMarketSeq,
  publishAll,
  readProcessed,
  recordedTrades,
} from "./service-harness.js";

// Requires the built service: `pnpm --filter @market-scraper/processor-service... build`.
const ENV = { OHLCV_INTERVALS: "1m,5m", OHLCV_LATENESS_MS: "1000", CHECKPOINT_INTERVAL_MS: "60s" };
const trades = recordedTrades();

/** What one in-process pipeline makes of the same sequence: the closed candles, and the surviving trades. */
async function expectedOutputs(): Promise<{ candles: Set<string>; trades: number; late: number }> {
  const ohlcv = new OhlcvProcessor(null, { intervals: ["1m", "5m"], latenessMs: 1000 });
  const pipeline = new Pipeline(null, [new ValidateProcessor(), new DedupProcessor(), ohlcv]);
  const candles = new Set<string>();
  let surviving = 0;
  let late = 0;
  for (const t of trades) {
    for (const out of await pipeline.apply(t)) {
      if (out.event_type === "ohlcv") candles.add(candleKey(out));
      if (out.event_type === "trade") surviving++;
      if (out.event_type === "error") late++;
    }
  }
  return { candles, trades: surviving, late };
}

const servers: NatsServerHandle[] = [];
const processes: ServiceProcess[] = [];
const buses: NatsEventBus[] = [];

afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.terminate()));
  await Promise.all(buses.splice(0).map((b) => b.close()));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function setup() {
  const nats = await startNats({ isolated: true });
  servers.push(nats);
  const bus = await NatsEventBus.connect({ servers: nats.url });
  buses.push(bus);
  return { nats, bus, nc: bus.connection };
}

async function replica(url: string, partition: string, extra: Record<string, string> = {}) {
  const p = await ServiceProcess.start({ NATS_URL: url, PROCESSOR_PARTITION: partition, ...ENV, ...extra });
  processes.push(p);
  return p;
}

async function settled(nc: NatsEventBus["connection"], partitions: string[]): Promise<void> {
  const last = await lastMarketSeq(nc);
  await waitFor(
    async () => {
      for (const p of partitions) if ((await checkpointPosition(nc, p)) < last) return false;
      return true;
    },
    { timeoutMs: 30_000, message: `all partitions checkpointed through ${last}` },
  );
}

async function candlesOf(nc: NatsEventBus["connection"]): Promise<string[]> {
  return (await readProcessed(nc, "processed.ohlcv.>")).map(candleKey);
}

describe("processor-service partitions (real NATS, dist/main.js)", () => {
  let expected: Awaited<ReturnType<typeof expectedOutputs>>;
  beforeAll(async () => {
    expected = await expectedOutputs();
  });

  it("two partitioned replicas produce exactly the candles of one replica", async () => {
    expect(expected.candles.size).toBeGreaterThan(100);
    expect(expected.late).toBeGreaterThan(0);
    // The symbols really are spread over both partitions.
    const owners = new Set(
      trades.map((t) => partitionOf(t.source, (t.payload as { symbol: string }).symbol, 2)),
    );
    expect(owners).toEqual(new Set([0, 1]));

    const single = await setup();
    await publishAll(single.bus, trades);
    await replica(single.nats.url, "0/1", { CHECKPOINT_INTERVAL_MS: "200ms" });
    await settled(single.nc, ["p0of1"]);
    const one = await candlesOf(single.nc);

    const split = await setup();
    await publishAll(split.bus, trades);
    await replica(split.nats.url, "0/2", { CHECKPOINT_INTERVAL_MS: "200ms" });
    await replica(split.nats.url, "1/2", { CHECKPOINT_INTERVAL_MS: "200ms" });
    await settled(split.nc, ["p0of2", "p1of2"]);
    const two = await candlesOf(split.nc);

    expect(new Set(one)).toEqual(expected.candles);
    expect(one).toHaveLength(expected.candles.size); // no duplicates stored
    expect(two.slice().sort()).toEqual(one.slice().sort());
    const processedTrades = await readProcessed(split.nc, "processed.trade.>");
    expect(processedTrades).toHaveLength(expected.trades);
  });

  it("a replica killed (SIGKILL) mid-stream and restarted loses no candle and duplicates none", async () => {
    const { nats, bus, nc } = await setup();
    const third = Math.floor(trades.length / 3);
    await publishAll(bus, trades.slice(0, third));
    // Checkpoints every 400 messages only, so the kill loses in-memory state past the last checkpoint.
    const extra = { CHECKPOINT_EVERY: "400" };
    const victim = await replica(nats.url, "0/2", extra);
    await replica(nats.url, "1/2", { ...extra, CHECKPOINT_INTERVAL_MS: "200ms" });
    await waitFor(async () => (await checkpointPosition(nc, "p0of2")) >= 400, { timeoutMs: 20_000 });

    // The stream goes on: the rest is published while the victim works, is killed, and is down.
    let published = third;
    const feeding = (async () => {
      for (const e of trades.slice(third)) {
        await bus.publish(e);
        if (++published % 100 === 0) await bus.flush();
      }
      await bus.flush();
    })();
    await waitFor(() => published >= 2 * third, { timeoutMs: 20_000 });
    await victim.kill9();
    const position = await checkpointPosition(nc, "p0of2");
    expect(position).toBeLessThan(await lastMarketSeq(nc)); // its state past the checkpoint died with it
    await feeding;
    await replica(nats.url, "0/2", { ...extra, CHECKPOINT_INTERVAL_MS: "200ms" });
    await settled(nc, ["p0of2", "p1of2"]);

    const candles = await candlesOf(nc);
    expect(new Set(candles)).toEqual(expected.candles);
    expect(candles).toHaveLength(expected.candles.size); // no candle stored twice
    const processedTrades = await readProcessed(nc, "processed.trade.>");
    expect(new Set(processedTrades.map((t) => t.event_id)).size).toBe(processedTrades.length);
    expect(processedTrades).toHaveLength(expected.trades);
  });
});
