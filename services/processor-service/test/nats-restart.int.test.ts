import { Writable } from "node:stream";
import { NatsEventBus } from "@market-scraper/bus";
import { type StandardEvent, decodeEvent } from "@market-scraper/events";
import { type HealthCheck, HealthState, connectNats, createLogger, parseEnv } from "@market-scraper/runtime";
import { type NatsServerHandle, makeTrade, startNats, waitFor } from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { processorEnv } from "../src/config.js";
import { Pipeline } from "../src/pipeline.js";
import { DedupProcessor } from "../src/processors/dedup-processor.js";
import { OhlcvProcessor } from "../src/processors/ohlcv-processor.js";
import { ValidateProcessor } from "../src/processors/validate-processor.js";
import { CONSUMER_HEALTH_CHECK, SERVICE_NAME, createProcessorService } from "../src/service.js";
import { candleKey, lastMarketSeq, readProcessed, readStream } from "./service-harness.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** The closed candles one in-process pipeline makes of the trades, in the order MARKET stored them. */
async function expectedCandles(trades: readonly StandardEvent[]): Promise<Set<string>> {
  const pipeline = new Pipeline(null, [
    new ValidateProcessor(),
    new DedupProcessor(),
    new OhlcvProcessor(null, { intervals: ["1m"], latenessMs: 0 }),
  ]);
  const candles = new Set<string>();
  for (const t of trades) {
    for (const out of await pipeline.apply(t)) if (out.event_type === "ohlcv") candles.add(candleKey(out));
  }
  return candles;
}

function tradeIndex(e: StandardEvent): number {
  const id = (e.payload as { trade_id: string }).trade_id;
  return Number(id.slice(id.lastIndexOf("-") + 1));
}

interface Sample {
  at: number;
  ready: boolean;
  consumer: HealthCheck | undefined;
}

describe("processor-service across a nats-server restart (same store)", () => {
  it.each([
    { when: "no checkpoint in flight", interval: "60s" },
    { when: "checkpoints every 100 ms", interval: "100ms" },
  ])(
    "resumes within seconds ($when), loses and doubles nothing, and is not ready while stalled",
    async ({ interval }) => {
      const nats: NatsServerHandle = await startNats({ isolated: true });
      cleanups.push(() => nats.stop());
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      });
      const logger = createLogger({ service: SERVICE_NAME, level: "info", destination: sink });
      const config = parseEnv(processorEnv, {
        NATS_URL: nats.url,
        OHLCV_INTERVALS: "1m",
        OHLCV_LATENESS_MS: "0",
        CHECKPOINT_INTERVAL_MS: interval,
      });
      // Wired as main.ts wires it.
      const health = new HealthState();
      const nc = await connectNats(config, { name: SERVICE_NAME, logger, health });
      cleanups.push(() => nc.close());
      const bus = await NatsEventBus.connect({
        connection: nc,
        source: SERVICE_NAME,
        logger: logger.child({ component: "bus" }),
      });
      cleanups.push(() => bus.close());
      const service = createProcessorService({ bus, logger, config, nc, health });
      await service.start();
      cleanups.push(() => service.stop());
      const producer = await NatsEventBus.connect({ servers: nats.url });
      cleanups.push(() => producer.close());

      const samples: Sample[] = [];
      const sampler = setInterval(() => {
        const snapshot = health.snapshot();
        samples.push({
          at: performance.now(),
          ready: snapshot.ready,
          consumer: snapshot.checks[CONSUMER_HEALTH_CHECK],
        });
      }, 20);
      cleanups.push(async () => clearInterval(sampler));
      // When each processed trade first shows up on the wire.
      const arrivals = new Map<number, number>();
      producer.connection.subscribe("processed.trade.>", {
        callback: (err, msg) => {
          if (err !== null) return;
          const index = tradeIndex(decodeEvent(msg.data));
          if (!arrivals.has(index)) arrivals.set(index, performance.now());
        },
      });

      // A steady feed: ten trades every 20 ms, across three symbols, 400 ms of event time apart.
      const start = Date.parse("2024-03-01T00:00:00.000Z");
      let fed = 0;
      let feeding = true;
      const feeder = (async () => {
        while (feeding) {
          for (let k = 0; k < 10; k++, fed++) {
            await producer.publish(
              makeTrade({
                symbol: `RS${fed % 3}-USD`,
                timestamp: new Date(start + fed * 400),
                payload: { trade_id: `rs-${fed}`, price: 100 + (fed % 7), volume: 0.1 },
              }),
            );
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      cleanups.push(async () => {
        feeding = false;
        await feeder;
      });
      await waitFor(() => arrivals.size >= 200 && health.ready, {
        timeoutMs: 20_000,
        message: "processed trades flowing",
      });

      const restarting = performance.now();
      await nats.restart();
      const back = performance.now();
      const firstAfter = fed;
      const resumed = await waitFor(
        () => {
          for (const [index, at] of arrivals) if (index >= firstAfter) return at;
          return undefined;
        },
        { timeoutMs: 90_000, intervalMs: 20, message: "a trade fed after the restart, processed" },
      );
      const readyAgain = await waitFor(
        () => {
          const down = samples.find((s) => s.at > restarting && !s.ready);
          return down && samples.find((s) => s.at > down.at && s.ready)?.at;
        },
        { timeoutMs: 30_000, message: "ready again after the restart" },
      );
      // The feed goes on for a while: a consumer that resumes but soon stalls again shows as a gap.
      await new Promise((r) => setTimeout(r, 4000));
      feeding = false;
      await feeder;
      await producer.flush();
      const last = await lastMarketSeq(producer.connection);
      await waitFor(() => (service.consumerStats()?.position ?? 0) >= last, {
        timeoutMs: 90_000,
        message: `the processor through MARKET seq ${last}`,
      });
      await bus.flush();
      // The longest time without processed output, from the restart until it had caught up.
      const times = [restarting, ...[...arrivals.values()].filter((t) => t > restarting)].sort(
        (a, b) => a - b,
      );
      const longestPause = Math.max(...times.slice(1).map((t, i) => t - times[i]!));

      const notReady = samples.filter((s) => s.at > restarting && s.consumer?.ok === false);
      console.log(
        `nats-server restart (${interval} checkpoints; took ${Math.round(back - restarting)} ms): ` +
          `processed output resumed ${Math.round(resumed - back)} ms after the server was back, ` +
          `longest pause in processed output ${Math.round(longestPause)} ms; consumer check not ok for ` +
          `~${notReady.length * 20} ms ("${notReady.at(-1)?.consumer?.detail}"), ready again ` +
          `${Math.round(readyAgain - back)} ms after the server was back`,
      );
      console.log(lines.filter((l) => /resumed|unacknowledged|failed/.test(l)).join(""));

      expect(longestPause).toBeLessThan(15_000);
      // Not ready while it could not make progress (with the reason), ready again once it did.
      expect(notReady.length).toBeGreaterThan(0);
      expect(notReady.every((s) => (s.consumer?.detail ?? "").length > 0)).toBe(true);
      expect(health.ready).toBe(true);
      expect(health.snapshot().checks[CONSUMER_HEALTH_CHECK]).toEqual({ ok: true });
      // The recovery is logged once, with what stalled and for how long.
      const recoveries = lines
        .map((l) => JSON.parse(l) as { msg: string; stalled?: string; stalled_ms?: number })
        .filter((l) => l.msg === "partition consumer resumed");
      expect(recoveries).toHaveLength(1);
      expect(recoveries[0]!.stalled).toMatch(/NATS connection dropped/);
      expect(recoveries[0]!.stalled_ms).toBeGreaterThan(0);

      // Every trade stored in MARKET is processed exactly once; the candles are those of one pass.
      const market = await readStream(producer.connection, "MARKET", "market.trade.>");
      expect(market.length).toBe(fed);
      const processed = await readProcessed(producer.connection, "processed.trade.>");
      expect(processed.map(tradeIndex).sort((a, b) => a - b)).toEqual(
        market.map(tradeIndex).sort((a, b) => a - b),
      );
      const expected = await expectedCandles(market);
      expect(expected.size).toBeGreaterThan(10);
      const candles = (await readProcessed(producer.connection, "processed.ohlcv.>")).map(candleKey);
      expect(new Set(candles)).toEqual(expected);
      expect(candles).toHaveLength(expected.size);
    },
    180_000,
  );
});
