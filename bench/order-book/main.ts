/**
 * order-book: the order-book engine (`OrderBookSync.onDelta`: sequencing rule, both sides updated, the
 * crossed check, conflation) in deltas/s, beside `JSON.parse` of the same depth frames, in the same run.
 * The figure is the ratio engine deltas/s ÷ `JSON.parse` frames/s (goal ≥ 0.7: keeping the book costs
 * no more than decoding the frame). A third path does both (decode, map, apply): the connector's whole
 * per-frame cost.
 *
 * Run from the repo root: `pnpm --filter @market-scraper/bench order-book` (after `pnpm build`).
 * Env: BENCH_REPS (11 rounds), BENCH_FRAMES (20000 depth frames), BENCH_LEVELS (500 levels a side).
 */
import { cpus } from "node:os";
import {
  type BookDelta,
  type Level,
  OrderBookSync,
  type SequenceRules,
  systemScheduler,
} from "@market-scraper/connector-service";
import { createLogger } from "@market-scraper/runtime";
import { TrueBook } from "@market-scraper/testkit";

const REPS = Number(process.env.BENCH_REPS ?? 11);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 20_000);
const LEVELS = Number(process.env.BENCH_LEVELS ?? 500);

/** Binance spot's rules (U/u). */
const rules: SequenceRules = {
  firstAfterSnapshot: (s, d) =>
    d.last <= s.sequence ? "drop" : (d.first ?? d.last) <= s.sequence + 1 ? "apply" : "gap",
  next: (last, d) => (d.last <= last.last ? "drop" : d.first === last.last + 1 ? "apply" : "gap"),
};

// Binance-format `depthUpdate` frames from a true book: 1-20 level changes each (inserts, resizes,
// deletes near the top, as a 100 ms diff carries), update ids chained.
const truth = new TrueBook({
  seed: 42,
  levels: LEVELS,
  maxIdsPerUpdate: 5,
  tick: "0.01",
  midTicks: 8_414_300,
});
const snapshot = truth.snapshot();
let seed = 7;
const rand = (): number => {
  seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
  return seed / 2 ** 32;
};
const frames: string[] = [];
let time = 1_790_232_216_193;
for (let f = 0; f < FRAMES; f += 1) {
  const ops = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => ({
    side: rand() < 0.5 ? ("bids" as const) : ("asks" as const),
    kind: rand() < 0.3 ? ("delete" as const) : ("set" as const),
    at: Math.floor(rand() * 40),
    size: 1 + Math.floor(rand() * 50_000),
  }));
  const { update } = truth.updateFrom(ops);
  time += 100;
  frames.push(
    JSON.stringify({
      e: "depthUpdate",
      E: time,
      s: "BTCUSDT",
      U: update.first,
      u: update.last,
      b: update.bids,
      a: update.asks,
    }),
  );
}

interface DepthFrame {
  E: number;
  U: number;
  u: number;
  b: Level[];
  a: Level[];
}
const toDelta = (f: DepthFrame): BookDelta => ({
  first: f.U,
  last: f.u,
  bids: f.b,
  asks: f.a,
  exchangeTime: f.E,
});
const deltas = frames.map((text) => toDelta(JSON.parse(text) as DepthFrame));
const changes = deltas.reduce((n, d) => n + d.bids.length + d.asks.length, 0);

const logger = createLogger({ service: "bench", level: "silent" });
let published = 0;
function engine(intervalMs: number): OrderBookSync {
  const sync = new OrderBookSync({
    source: "binance",
    symbol: "BTC-USDT",
    rawSymbol: "BTCUSDT",
    rules,
    depth: 20,
    intervalMs,
    publish: () => (published += 1),
    onResync: (reason, detail) => {
      throw new Error(`unexpected resync: ${reason}: ${detail}`);
    },
    scheduler: systemScheduler,
    logger,
  });
  sync.onSnapshot(snapshot);
  return sync;
}

function check(): void {
  const sync = engine(0);
  for (const d of deltas) sync.onDelta(d);
  const expected = truth.top(20);
  const got = { bids: sync.book.topBids(20), asks: sync.book.topAsks(20) };
  if (JSON.stringify(got) !== JSON.stringify({ bids: expected.bids, asks: expected.asks }))
    throw new Error("the engine's book differs from the true book");
  sync.close();
}

let sink = 0;
const cases: Record<string, () => number> = {
  "JSON.parse only": () => {
    const t = performance.now();
    for (const text of frames) sink += (JSON.parse(text) as DepthFrame).u;
    return performance.now() - t;
  },
  "engine (100 ms conflation)": () => {
    const sync = engine(100);
    const t = performance.now();
    for (const d of deltas) sync.onDelta(d);
    const ms = performance.now() - t;
    sync.close();
    return ms;
  },
  "engine (every update published)": () => {
    const sync = engine(0);
    const t = performance.now();
    for (const d of deltas) sync.onDelta(d);
    const ms = performance.now() - t;
    sync.close();
    return ms;
  },
  "JSON.parse + engine (100 ms)": () => {
    const sync = engine(100);
    const t = performance.now();
    for (const text of frames) sync.onDelta(toDelta(JSON.parse(text) as DepthFrame));
    const ms = performance.now() - t;
    sync.close();
    return ms;
  },
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

check();
const times: Record<string, number[]> = {};
for (const name of Object.keys(cases)) times[name] = [];
// Interleaved rounds: every case sees the same machine load; the first round warms up.
for (let r = 0; r <= REPS; r += 1) {
  for (const [name, run] of Object.entries(cases)) {
    const ms = run();
    if (r > 0) times[name]!.push(ms);
  }
}
const base = median(times["JSON.parse only"]!);
console.log(
  `order-book: ${FRAMES} Binance depthUpdate frames (${(changes / FRAMES).toFixed(1)} level changes each, ` +
    `book of ~${LEVELS} levels a side), ${REPS} rounds, node ${process.version}, ${cpus()[0]?.model ?? "?"}`,
);
console.log("| path | deltas/s | ratio vs JSON.parse |");
console.log("| --- | --- | --- |");
for (const [name, values] of Object.entries(times)) {
  const ms = median(values);
  console.log(
    `| ${name} | ${Math.round((FRAMES / ms) * 1000).toLocaleString("en")} | ${(base / ms).toFixed(2)} |`,
  );
}
if (sink === -1 || published < 0) console.log(sink, published);
