/**
 * processor-throughput: trades/s through the processor-service pipeline validate → dedup → ohlcv on
 * NATS JetStream, beside the bare bus moving the same events in the same run.
 *
 * Each case gets a private nats-server (same binary, fresh JetStream store). Two shapes:
 * - live: the consumer runs while N trades are published; time from the first publish until the
 *   consumer has taken all N (and, for the pipeline, its outputs are stored).
 * - backlog: N trades are stored first; time for the consumer to drain them.
 * The bare bus is a durable `NatsEventBus` subscription whose handler only counts (the bus's own
 * at-least-once path: pull consumer, explicit ack per message). A second baseline is the transport the
 * pipeline itself reads with: a raw JetStream ordered consumer that only counts. The pipeline is
 * `createProcessorService` (in-process, its own NATS connection) publishing processed trades and
 * candles (1m, 5m, 1h) to the PROCESSED stream.
 *
 * Env: BENCH_TRADES (30000), BENCH_REPS (3), BENCH_SYMBOLS (8). Run from the repo root after a build:
 * `pnpm build && pnpm --filter @market-scraper/bench processor-throughput`.
 */
import { cpus } from "node:os";
import { NatsEventBus } from "@market-scraper/bus";
import type { StandardEvent } from "@market-scraper/events";
import { createProcessorService, processorEnv } from "@market-scraper/processor-service";
import { createLogger, parseEnv } from "@market-scraper/runtime";
import { makeTrade, startNats } from "@market-scraper/testkit";
import { jetstream } from "@nats-io/jetstream";

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return value;
}

const N = envInt("BENCH_TRADES", 30_000);
const REPS = envInt("BENCH_REPS", 3);
const SYMBOLS = envInt("BENCH_SYMBOLS", 8);
const TIMEOUT_MS = 120_000;

function trades(): StandardEvent[] {
  const start = Date.parse("2024-01-15T00:00:00.000Z");
  return Array.from({ length: N }, (_, i) =>
    makeTrade({
      source: "bench",
      symbol: `S${i % SYMBOLS}-USD`,
      timestamp: new Date(start + i * 50), // 20 trades/s of event time: candles close all along
      payload: { trade_id: `t${i}`, price: 100 + (i % 17) * 0.25, volume: ((i % 7) + 1) * 0.001 },
    }),
  );
}

const events = trades();

async function until(probe: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function publishAll(bus: NatsEventBus): Promise<void> {
  for (const e of events) await bus.publish(e);
  await bus.flush();
}

type Shape = "live" | "backlog";

/**
 * Starts the reader and publishes the trades in the order `shape` says (live: reader first; backlog:
 * every trade stored first). Returns when the clock starts (live: before publishing; backlog: before
 * the reader starts) and, for a backlog, the publish rate.
 */
async function arrange(
  shape: Shape,
  producer: NatsEventBus,
  startReader: () => Promise<unknown>,
): Promise<{ t0: number; publishRate: number }> {
  if (shape === "live") {
    await startReader();
    const t0 = performance.now();
    await publishAll(producer);
    return { t0, publishRate: NaN };
  }
  const p0 = performance.now();
  await publishAll(producer);
  const t0 = performance.now();
  const publishRate = N / ((t0 - p0) / 1000);
  await startReader();
  return { t0, publishRate };
}

/** Bare bus: a durable subscription that only counts. Returns trades/s. */
async function bare(shape: Shape): Promise<number> {
  const nats = await startNats({ isolated: true });
  const producer = await NatsEventBus.connect({ servers: nats.url });
  const consumer = await NatsEventBus.connect({ servers: nats.url });
  try {
    let count = 0;
    const subscribe = () =>
      consumer.subscribe(
        { stage: "market", event_types: ["trade"] },
        () => {
          count++;
        },
        { durable: "bench" },
      );
    const { t0 } = await arrange(shape, producer, subscribe);
    await until(() => count >= N, "bare bus delivery");
    return N / ((performance.now() - t0) / 1000);
  } finally {
    await consumer.close();
    await producer.close();
    await nats.stop();
  }
}

/** The pipeline's own transport without the pipeline: an ordered consumer that counts. Returns trades/s. */
async function rawOrdered(shape: Shape): Promise<number> {
  const nats = await startNats({ isolated: true });
  const producer = await NatsEventBus.connect({ servers: nats.url });
  const reader = await NatsEventBus.connect({ servers: nats.url });
  try {
    let count = 0;
    let done: Promise<void> = Promise.resolve();
    const subscribe = async () => {
      const consumer = await jetstream(reader.connection).consumers.get("MARKET", {
        filter_subjects: "market.trade.>",
      });
      const messages = await consumer.consume({ max_messages: 1000 });
      done = (async () => {
        for await (const _m of messages) if (++count >= N) break;
        await messages.close();
      })();
    };
    const { t0 } = await arrange(shape, producer, subscribe);
    await until(() => count >= N, "ordered consumer delivery");
    const rate = N / ((performance.now() - t0) / 1000);
    await done;
    return rate;
  } finally {
    await reader.close();
    await producer.close();
    await nats.stop();
  }
}

/** validate → dedup → ohlcv in the processor service. Returns trades/s. */
async function pipeline(shape: Shape): Promise<{ rate: number; candles: number; publishRate: number }> {
  const nats = await startNats({ isolated: true });
  const producer = await NatsEventBus.connect({ servers: nats.url });
  const bus = await NatsEventBus.connect({ servers: nats.url, source: "processor-service" });
  const config = parseEnv(processorEnv, { OHLCV_INTERVALS: "1m,5m,1h", OHLCV_LATENESS_MS: "0" });
  const service = createProcessorService({
    bus,
    nc: bus.connection,
    config,
    logger: createLogger({ service: "processor-service", level: "silent" }),
  });
  try {
    const { t0, publishRate } = await arrange(shape, producer, () => service.start());
    await until(() => (service.consumerStats()?.processed ?? 0) >= N, "pipeline consumption");
    await bus.flush(); // every processed trade and candle stored
    const rate = N / ((performance.now() - t0) / 1000);
    const ohlcv = service.processorStats().get("ohlcv");
    const candles = (ohlcv?.emitted ?? 0) - (ohlcv?.received ?? 0); // outputs beyond the passed-through trades
    return { rate, candles, publishRate };
  } finally {
    await service.stop();
    await bus.close();
    await producer.close();
    await nats.stop();
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

console.log(
  `processor-throughput: ${N} trades, ${SYMBOLS} symbols, ${REPS} reps, node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"})`,
);
for (const shape of ["live", "backlog"] as const) {
  const bareRates: number[] = [];
  const rawRates: number[] = [];
  const pipeRates: number[] = [];
  const publishRates: number[] = [];
  let candles = 0;
  for (let rep = 0; rep < REPS; rep++) {
    bareRates.push(await bare(shape));
    rawRates.push(await rawOrdered(shape));
    const p = await pipeline(shape);
    pipeRates.push(p.rate);
    publishRates.push(p.publishRate);
    candles = p.candles;
  }
  const b = median(bareRates);
  const r = median(rawRates);
  const p = median(pipeRates);
  const line = (label: string, rate: number, runs: number[]) =>
    console.log(
      `  ${label.padEnd(52)} ${fmt(rate).padStart(8)} trades/s   runs: ${runs.map(fmt).join(", ")}`,
    );
  console.log(`\n[${shape}]`);
  line("bare bus (NatsEventBus durable subscribe, count only)", b, bareRates);
  line("raw JetStream ordered consumer (count only)", r, rawRates);
  line("validate+dedup+ohlcv (processor-service, publishing)", p, pipeRates);
  if (shape === "backlog") {
    line("context: NatsEventBus JetStream publish of the trades", median(publishRates), publishRates);
  }
  console.log(`  ratio pipeline / bare bus: ${(p / b).toFixed(2)} (goal ≥ 0.60)`);
  console.log(`  ratio pipeline / raw ordered consumer: ${(p / r).toFixed(2)}   candles per run: ${candles}`);
}
