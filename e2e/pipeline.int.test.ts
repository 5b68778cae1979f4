import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StandardEvent } from "@market-scraper/events";
import {
  FakeHyperliquidServer,
  type FakeHlTrade,
  type NatsServerHandle,
  type PostgresServerHandle,
  startNats,
  startPostgres,
  waitFor,
} from "@market-scraper/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getAll } from "./support/http.js";
import { type RunningProcess, spawnService } from "./support/processes.js";
import { StreamClient } from "@market-scraper/testkit";

// The whole pipeline end to end, three ways, fed the same exchange data by three fake Hyperliquid servers:
//  - distributed: connector, processor, storage (PostgreSQL) and gateway as four processes on NATS;
//  - standalone on its in-memory bus with SQLite (the default);
//  - standalone with EVENT_BUS=nats (its own nats-server).
// Each is observed as a user would: the gateway's REST history and a WebSocket client.

const MINUTE = 60_000;
const COINS = [
  { coin: "BTC", symbol: "BTC-USD", base: 70_000 },
  { coin: "ETH", symbol: "ETH-USD", base: 3_500 },
] as const;
// Aligned to 5 minutes, in the past (the processor refuses future trades).
const T0 = Math.floor(Date.now() / (5 * MINUTE)) * 5 * MINUTE - 15 * MINUTE;
const PROCESSOR_ENV = { OHLCV_INTERVALS: "1m,5m", PROCESSORS: "validate,dedup,ohlcv" };

/** 15 trades per coin every 20 s over 5 minutes, then one at 5:10 that closes the 1m and 5m buckets. */
function makeTrades(): FakeHlTrade[] {
  const trades: FakeHlTrade[] = [];
  let tid = 9_000_000_000;
  for (let i = 0; i <= 15; i++) {
    const time = i < 15 ? T0 + i * 20_000 : T0 + 5 * MINUTE + 10_000;
    for (const [k, c] of COINS.entries()) {
      tid += 1;
      const px = (c.base + ((i * 7 + k * 3) % 11) - 5 + (i % 3) * 0.5).toFixed(1);
      const sz = (0.1 + ((i * 13 + k) % 17) * 0.01234).toFixed(5);
      trades.push({
        coin: c.coin,
        side: i % 2 === 0 ? "B" : "A",
        px,
        sz,
        time,
        hash: `0x${tid.toString(16).padStart(64, "0")}`,
        tid,
      });
    }
  }
  return trades;
}

interface ExpectedCandle {
  symbol: string;
  interval: string;
  timestamp: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  trades: number;
}

/** Closed candles computed independently: exact volume sums on integers of 1e-5. */
function expectedCandles(
  trades: readonly FakeHlTrade[],
  symbol: string,
  coin: string,
  interval: string,
  ms: number,
): ExpectedCandle[] {
  const buckets = new Map<number, FakeHlTrade[]>();
  for (const t of trades.filter((x) => x.coin === coin)) {
    const start = Math.floor(t.time / ms) * ms;
    buckets.set(start, [...(buckets.get(start) ?? []), t]);
  }
  const last = Math.max(...trades.map((t) => t.time));
  return [...buckets.entries()]
    .filter(([start]) => start + ms + 2_000 <= last) // closed by a later trade past the 2 s allowance
    .sort(([a], [b]) => a - b)
    .map(([start, list]) => {
      const prices = list.map((t) => Number(t.px));
      const volume = list.reduce((sum, t) => sum + BigInt(t.sz.replace(".", "")), 0n);
      return {
        symbol,
        interval,
        timestamp: new Date(start).toISOString(),
        open: prices[0]!,
        high: Math.max(...prices),
        low: Math.min(...prices),
        close: prices.at(-1)!,
        volume: Number(volume) / 1e5,
        trades: list.length,
      };
    });
}

/** What must be the same in every run: ids, times, payloads (minus the receive time of this run). */
function normalized(events: readonly StandardEvent[]): unknown[] {
  return events
    .map((e) => {
      const { received_at: _r, ...payload } = e.payload as Record<string, unknown>;
      return {
        event_id: e.event_id,
        event_type: e.event_type,
        timestamp: e.timestamp,
        source: e.source,
        payload,
      };
    })
    .sort((a, b) => a.event_id.localeCompare(b.event_id));
}

interface Run {
  name: string;
  fake: FakeHyperliquidServer;
  gatewayUrl: string;
  client?: StreamClient;
  processes: RunningProcess[];
}

const trades = makeTrades();
const runs: Run[] = [];
const servers: { stop(): Promise<void> }[] = [];
const dir = mkdtempSync(join(tmpdir(), "e2e-pipeline-"));
let nats: NatsServerHandle;
let pg: PostgresServerHandle;

function connectorEnv(fake: FakeHyperliquidServer) {
  return {
    HYPERLIQUID_WS_URL: fake.wsUrl,
    HYPERLIQUID_REST_URL: fake.restUrl,
    HYPERLIQUID_SYMBOLS: "BTC,ETH",
    HYPERLIQUID_CHANNELS: "trade",
    HEARTBEAT_INTERVAL: "0",
  };
}

beforeAll(async () => {
  nats = await startNats({ isolated: true });
  servers.push(nats);
  const standaloneNats = await startNats({ isolated: true });
  servers.push(standaloneNats);
  pg = await startPostgres();
  servers.push(pg);
  const fakes = await Promise.all([0, 1, 2].map(() => FakeHyperliquidServer.start()));
  for (const fake of fakes) servers.push({ stop: () => fake.close() });

  const common = { NATS_URL: nats.url, STORAGE_FLUSH_MS: "20ms", ...PROCESSOR_ENV };
  const distributed = await Promise.all([
    spawnService("storage-service", { ...common, DATABASE_URL: pg.url }),
    spawnService("processor-service", common),
    spawnService("gateway-service", common),
    spawnService("connector-service", { ...common, ...connectorEnv(fakes[0]!) }),
  ]);
  const memory = await spawnService("standalone", {
    ...PROCESSOR_ENV,
    STORAGE_FLUSH_MS: "20ms",
    DATABASE_URL: `sqlite:${join(dir, "memory.db")}`,
    ...connectorEnv(fakes[1]!),
  });
  const overNats = await spawnService("standalone", {
    ...PROCESSOR_ENV,
    EVENT_BUS: "nats",
    NATS_URL: standaloneNats.url,
    STORAGE_FLUSH_MS: "20ms",
    DATABASE_URL: `sqlite:${join(dir, "nats.db")}`,
    ...connectorEnv(fakes[2]!),
  });
  runs.push(
    { name: "distributed", fake: fakes[0]!, gatewayUrl: distributed[2].url, processes: distributed },
    { name: "standalone", fake: fakes[1]!, gatewayUrl: memory.url, processes: [memory] },
    { name: "standalone EVENT_BUS=nats", fake: fakes[2]!, gatewayUrl: overNats.url, processes: [overNats] },
  );
  await Promise.all(runs.flatMap((r) => r.processes.map((p) => p.ready(60_000))));
  for (const run of runs) {
    await waitFor(
      () => run.fake.hasSubscription("trades", "BTC") && run.fake.hasSubscription("trades", "ETH"),
      {
        timeoutMs: 20_000,
        message: `${run.name}: subscribed to the exchange`,
      },
    );
    run.client = await StreamClient.open(`${run.gatewayUrl.replace("http", "ws")}/v1/stream`);
    await run.client.subscribe({ event_types: ["trade", "ohlcv"], symbols: ["BTC-USD", "ETH-USD"] });
  }
  // The exchange streams the same trades to every run, in a few frames.
  for (let i = 0; i < trades.length; i += 8) {
    for (const run of runs) run.fake.pushTrades(trades.slice(i, i + 8));
  }
  const perSymbol = trades.length / COINS.length;
  for (const run of runs) {
    await waitFor(
      async () => {
        for (const c of COINS) {
          const stored = await getAll(run.gatewayUrl, `/v1/markets/${c.symbol}/trades`);
          if (stored.length !== perSymbol) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, message: `${run.name}: every trade stored` },
    );
  }
}, 120_000);

afterAll(async () => {
  for (const run of runs) run.client?.close();
  const codes = await Promise.all(
    runs.flatMap((r) => r.processes.map(async (p) => [p.name, await p.stop()])),
  );
  for (const server of servers.reverse()) await server.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  // Every process shut down in order on SIGTERM.
  expect(codes.filter(([, code]) => code !== 0)).toEqual([]);
}, 60_000);

describe("the pipeline end to end", () => {
  it("distributed: REST returns the stored trades and the exact candles; a WebSocket client gets them live", async () => {
    const run = runs[0]!;
    for (const c of COINS) {
      const stored = await getAll(run.gatewayUrl, `/v1/markets/${c.symbol}/trades`);
      expect(stored.map((e) => (e.payload as { trade_id: string }).trade_id)).toEqual(
        trades.filter((t) => t.coin === c.coin).map((t) => String(t.tid)),
      );
      expect(stored.map((e) => (e.payload as { price: number }).price)).toEqual(
        trades.filter((t) => t.coin === c.coin).map((t) => Number(t.px)),
      );
      for (const [interval, ms] of [
        ["1m", MINUTE],
        ["5m", 5 * MINUTE],
      ] as const) {
        const expected = expectedCandles(trades, c.symbol, c.coin, interval, ms);
        expect(expected.length).toBe(interval === "1m" ? 5 : 1);
        const candles = await waitFor(
          async () => {
            const page = await getAll(run.gatewayUrl, `/v1/markets/${c.symbol}/ohlcv?interval=${interval}`);
            return page.length === expected.length ? page : undefined;
          },
          { message: `${c.symbol} ${interval} candles` },
        );
        const matchers = expected.map((x) => expect.objectContaining({ ...x, closed: true }) as unknown);
        expect(candles.map((e) => e.payload)).toEqual(matchers);
      }
    }
    const live = () => run.client!.events();
    await waitFor(() => live().filter((e) => e.event_type === "trade").length === trades.length, {
      message: "every processed trade live",
    });
    await waitFor(() => live().filter((e) => e.event_type === "ohlcv").length === 12, {
      message: "every candle live (5 × 1m + 1 × 5m per symbol)",
    });
    expect(live().every((e) => e.processed_at !== null)).toBe(true);
  });

  it("standalone (memory bus, and NATS) stores the same events and candles as the distributed run", async () => {
    const snapshot = async (run: Run) => ({
      market: normalized(await getAll(run.gatewayUrl, "/v1/events?event_type=trade&stage=market")),
      processed: normalized(await getAll(run.gatewayUrl, "/v1/events?event_type=trade&stage=processed")),
      candles: normalized(
        (await getAll(run.gatewayUrl, "/v1/events?event_type=ohlcv&stage=processed")).filter(
          (e) => (e.payload as { closed?: boolean }).closed === true,
        ),
      ),
    });
    const reference = await waitFor(
      async () => {
        const s = await snapshot(runs[0]!);
        return s.candles.length === 12 ? s : undefined;
      },
      { message: "distributed candles" },
    );
    expect(reference.market).toHaveLength(trades.length);
    expect(reference.processed).toHaveLength(trades.length);
    for (const run of runs.slice(1)) {
      const got = await waitFor(
        async () => {
          const s = await snapshot(run);
          return s.candles.length === 12 ? s : undefined;
        },
        { message: `${run.name} candles` },
      );
      expect(got, run.name).toEqual(reference);
      await waitFor(() => run.client!.events().length === trades.length + 12, {
        message: `${run.name}: live trades and candles`,
      });
    }
  });
});
