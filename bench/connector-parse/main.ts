/**
 * connector-parse: Hyperliquid WebSocket frames (text, as received) → validated `StandardEvent`s ready to
 * publish, beside the same frames through `JSON.parse` alone, in the same run. The ratio
 * (our frames/s ÷ JSON.parse frames/s) is the figure: 1.0 would mean the mapping is free. Then Bybit and
 * Binance frames the same way; beside ours, a peer on the same frames: tardis-dev's public mappers.
 *
 * Run from the repo root: `pnpm --filter @market-scraper/bench connector-parse` (after `pnpm build`).
 * Env: BENCH_REPS (11 rounds per case), BENCH_FRAMES (4000 distinct frames per kind).
 */
import { cpus } from "node:os";
import {
  BinanceFeed,
  type BinanceMarketKind,
  BinanceParser,
  BybitParser,
  HyperliquidFeed,
  HyperliquidParser,
  noopConnectorMetrics,
} from "@market-scraper/connector-service";
import { EventType, StandardEvent } from "@market-scraper/events";
import { normalizeBookChanges, normalizeTrades } from "tardis-dev";

const REPS = Number(process.env.BENCH_REPS ?? 11);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 4000);
const MARKETS = [
  { coin: "BTC", symbol: "BTC-USD", kind: "perp" as const },
  { coin: "ETH", symbol: "ETH-USD", kind: "perp" as const },
  { coin: "@107", symbol: "HYPE-USDC", kind: "spot" as const },
];

// Deterministic pseudo-random numbers, so every run measures the same frames.
let seed = 42;
function rand(): number {
  seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
  return seed / 2 ** 32;
}
const hex = (n: number): string =>
  Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join("");

/** Live-format trade frames (with `users` and `hash`): 1 trade most often, sometimes a sweep of several. */
function tradeFrames(count: number): string[] {
  const frames: string[] = [];
  let time = 1_790_232_216_193;
  let tid = 1_045_359_869_404_765;
  for (let f = 0; f < count; f += 1) {
    const market = MARKETS[f % 3]!;
    const r = rand();
    const n = r < 0.6 ? 1 : r < 0.85 ? 2 : r < 0.95 ? 4 : 8;
    time += 1 + Math.floor(rand() * 400);
    const base = market.coin === "BTC" ? 84_143 : market.coin === "ETH" ? 3_012.4 : 38.214;
    const hash = `0x${hex(64)}`;
    const side = rand() < 0.5 ? "A" : "B";
    const data = Array.from({ length: n }, (_, i) => ({
      coin: market.coin,
      side,
      px: (base + (side === "B" ? i : -i) * 0.5 + Math.floor(rand() * 20) * 0.1).toFixed(
        market.coin === "BTC" ? 1 : 2,
      ),
      sz: (rand() * 2).toFixed(5),
      time,
      hash,
      tid: (tid += 1 + Math.floor(rand() * 1_000_000)),
      users: [`0x${hex(40)}`, `0x${hex(40)}`],
    }));
    frames.push(JSON.stringify({ channel: "trades", data }));
  }
  return frames;
}

/** `l2Book` snapshots as the server pushes them by default: 20 levels a side. */
function bookFrames(count: number): string[] {
  const frames: string[] = [];
  let time = 1_790_232_216_193;
  for (let f = 0; f < count; f += 1) {
    const market = MARKETS[f % 3]!;
    const mid =
      (market.coin === "BTC" ? 84_143 : market.coin === "ETH" ? 3_012.4 : 38.214) *
      (1 + (rand() - 0.5) / 100);
    const tick = market.coin === "BTC" ? 1 : market.coin === "ETH" ? 0.1 : 0.001;
    const digits = market.coin === "BTC" ? 1 : market.coin === "ETH" ? 2 : 4;
    const side = (dir: number) =>
      Array.from({ length: 20 }, (_, i) => ({
        px: (mid + dir * (i + 1) * tick).toFixed(digits),
        sz: (rand() * 10).toFixed(5),
        n: 1 + Math.floor(rand() * 20),
      }));
    time += 500;
    frames.push(
      JSON.stringify({ channel: "l2Book", data: { coin: market.coin, time, levels: [side(-1), side(1)] } }),
    );
  }
  return frames;
}

let sink = 0;

type Path = (frames: readonly string[], from: number, to: number) => void;

/** What the peer rows use of a tardis-dev mapper: its public `Mapper` (`canHandle`, `map`). */
interface TardisMapper {
  canHandle(message: unknown): boolean;
  map(message: unknown, localTimestamp: Date): IterableIterator<{ type: string }> | undefined;
}

/** The exchanges (tardis-dev's names) whose frames this bench has. */
type TardisExchange = "hyperliquid" | "binance" | "binance-futures" | "bybit-spot";

/** tardis-dev's public mapper factories (`normalizeTrades`, `normalizeBookChanges`) for one exchange. */
function tardisMappers(exchange: TardisExchange, kinds: readonly ("trades" | "book")[]): TardisMapper[] {
  // A local timestamp of now: the mappers of a live feed (Bybit's v5 mappers, Binance's strict overlap check).
  const now = new Date();
  return kinds.map((kind) =>
    kind === "trades" ? normalizeTrades(exchange, now) : normalizeBookChanges(exchange, now),
  );
}

/**
 * The peer's path over a frame: `JSON.parse` (its mappers take the parsed message), the first mapper that
 * can handle it, every normalized item it yields. Counts the items (or throws where a frame gives none,
 * when `check` is set: the frames must be ones the peer maps).
 */
function tardisPath(mappers: readonly TardisMapper[], time: number): Path & { check: Path } {
  const run = (frames: readonly string[], from: number, to: number, check: boolean): void => {
    for (let i = from; i < to; i += 1) {
      const message: unknown = JSON.parse(frames[i]!);
      const localTimestamp = new Date(time + i);
      let items = 0;
      for (const mapper of mappers) {
        if (!mapper.canHandle(message)) continue;
        for (const item of mapper.map(message, localTimestamp) ?? []) items += item.type.length;
        break;
      }
      if (check && items === 0) throw new Error(`tardis-dev mapped nothing from frame ${i}`);
      sink += items;
    }
  };
  return Object.assign((fs: readonly string[], from: number, to: number) => run(fs, from, to, false), {
    check: (fs: readonly string[], from: number, to: number) => run(fs, from, to, true),
  });
}

const jsonParseOnly: Path = (frames, from, to) => {
  for (let i = from; i < to; i += 1) {
    const frame = JSON.parse(frames[i]!) as { channel: string };
    sink += frame.channel.length;
  }
};

function parserPath(parser: HyperliquidParser): Path {
  return (frames, from, to) => {
    for (let i = from; i < to; i += 1) sink += parser.parse(frames[i]!, 1_790_232_216_200 + i).kind.length;
  };
}

/** The connector's whole path: parse, drop trades already seen, hand each event to the publish hook. */
function feedPath(): { path: Path; reset: () => void } {
  let feed = newFeed();
  function newFeed(): HyperliquidFeed {
    return new HyperliquidFeed({
      markets: MARKETS,
      metrics: noopConnectorMetrics,
      hooks: { publish: () => (sink += 1), error: () => undefined },
    });
  }
  return {
    path: (frames, from, to) => {
      for (let i = from; i < to; i += 1) feed.handleFrame(frames[i]!, 1_790_232_216_200 + i);
    },
    // A fresh de-duplicator per round: every trade is new, as live.
    reset: () => (feed = newFeed()),
  };
}

/** For context: the same frames through the schema-validated `StandardEvent.create` (zod) per event. */
const zodCreate: Path = (frames, from, to) => {
  for (let i = from; i < to; i += 1) {
    const frame = JSON.parse(frames[i]!) as { channel: string; data: unknown };
    if (frame.channel === "trades") {
      for (const t of frame.data as {
        coin: string;
        px: string;
        sz: string;
        time: number;
        tid: number;
        side: string;
      }[]) {
        const ts = new Date(t.time).toISOString();
        const e = StandardEvent.create({
          event_type: EventType.TRADE,
          source: "hyperliquid",
          payload: {
            symbol: `${t.coin}-USD`,
            raw_symbol: t.coin,
            price: Number(t.px),
            volume: Number(t.sz),
            timestamp: ts,
            side: t.side === "B" ? "buy" : "sell",
            trade_id: String(t.tid),
          },
        });
        sink += e.event_id.length;
      }
    } else {
      const d = frame.data as { coin: string; time: number; levels: { px: string; sz: string }[][] };
      const toLevels = (side: { px: string; sz: string }[]) =>
        side.map((l) => [Number(l.px), Number(l.sz)] as [number, number]);
      const bids = toLevels(d.levels[0]!);
      const asks = toLevels(d.levels[1]!);
      const e = StandardEvent.create({
        event_type: EventType.ORDER_BOOK,
        source: "hyperliquid",
        payload: {
          symbol: `${d.coin}-USD`,
          bid: bids[0]![0],
          ask: asks[0]![0],
          bid_volume: bids[0]![1],
          ask_volume: asks[0]![1],
          timestamp: new Date(d.time).toISOString(),
          bids,
          asks,
        },
      });
      sink += e.event_id.length;
    }
  }
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Every event the fast path builds must be a valid StandardEvent (the same check as the unit test). */
function checkValid(frames: readonly string[]): number {
  const parser = new HyperliquidParser({ markets: MARKETS });
  let events = 0;
  for (const [i, text] of frames.entries()) {
    const result = parser.parse(text, 1_790_232_216_200 + i);
    const list =
      result.kind === "trades" ? result.events : result.kind === "book" && result.event ? [result.event] : [];
    if (list.length === 0) throw new Error(`frame ${i} gave no event (${result.kind})`);
    for (const event of list) StandardEvent.parse(event);
    events += list.length;
  }
  return events;
}

interface Row {
  name: string;
  frames: number;
  events: number;
  bytes: number;
  json: number;
  ours: number;
  feed: number;
  zod: number;
  tardis: number;
  oursRatio: number;
  feedRatio: number;
  zodRatio: number;
  tardisRatio: number;
}

/**
 * Frames per block: the paths alternate block by block (in rotating order), so load on a shared machine
 * and cache effects hit all alike.
 */
const BLOCK = 250;

/**
 * Times `paths` over the same frames: the paths alternate every `BLOCK` frames, in rotating order (the
 * first path over a block reads its frames from memory, the next ones from the CPU cache: none is
 * favoured), 3 warm-up rounds then `REPS` rounds. Each round's frames/s per path; `beforeRound` runs
 * before each round (a fresh de-duplicator, say).
 */
function timeRounds(frames: readonly string[], paths: readonly Path[], beforeRound?: () => void): number[][] {
  const round = (): number[] => {
    const seconds = paths.map(() => 0);
    beforeRound?.();
    for (let from = 0, block = 0; from < frames.length; from += BLOCK, block += 1) {
      const to = Math.min(frames.length, from + BLOCK);
      for (let k = 0; k < paths.length; k += 1) {
        const p = (block + k) % paths.length;
        const start = process.hrtime.bigint();
        paths[p]!(frames, from, to);
        seconds[p]! += Number(process.hrtime.bigint() - start) / 1e9;
      }
    }
    return seconds.map((s) => frames.length / s);
  };
  for (let i = 0; i < 3; i += 1) round(); // warm-up: let the JIT settle on every path
  return Array.from({ length: REPS }, round);
}

/** Rates: medians over rounds. Ratios to path 0: the median of each round's own ratio (robust to load drift). */
function summarize(rounds: readonly number[][]): {
  rate: (p: number) => number;
  ratio: (p: number) => number;
} {
  return {
    rate: (p) => median(rounds.map((r) => r[p]!)),
    ratio: (p) => median(rounds.map((r) => r[p]! / r[0]!)),
  };
}

function measure(name: string, frames: string[]): Row {
  const events = checkValid(frames);
  const feed = feedPath();
  // The peer: tardis-dev's Hyperliquid mappers. Its trades mapper drops the first `trades` frame of each
  // coin (the snapshot sent on subscribing), so one frame per coin goes through it before the check.
  const tardis = tardisPath(tardisMappers("hyperliquid", ["trades", "book"]), 1_790_232_216_200);
  const subscribed = MARKETS.map(({ coin }) =>
    JSON.stringify({ channel: "trades", data: [{ coin, side: "B", px: "1", sz: "1", time: 1, tid: 1 }] }),
  );
  tardis(subscribed, 0, subscribed.length);
  tardis.check(frames, 0, frames.length);
  const paths: Path[] = [
    jsonParseOnly,
    parserPath(new HyperliquidParser({ markets: MARKETS })),
    feed.path,
    zodCreate,
    tardis,
  ];
  const { rate, ratio } = summarize(timeRounds(frames, paths, feed.reset));
  const bytes = frames.reduce((sum, f) => sum + f.length, 0) / frames.length;
  return {
    name,
    frames: frames.length,
    events,
    bytes,
    json: rate(0),
    ours: rate(1),
    feed: rate(2),
    zod: rate(3),
    tardis: rate(4),
    oursRatio: ratio(1),
    feedRatio: ratio(2),
    zodRatio: ratio(3),
    tardisRatio: ratio(4),
  };
}

const k = (n: number): string => `${(n / 1000).toFixed(0)}k`;

function printTable(header: readonly string[], table: readonly string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const row of table) console.log(line(row));
}
const trades = tradeFrames(FRAMES);
const books = bookFrames(FRAMES);
const mixed = trades.flatMap((t, i) => [t, t, t, books[i]!]).slice(0, FRAMES * 2); // ~3 trade frames per book frame

const rows = [measure("trades", trades), measure("l2Book (20x20)", books), measure("mixed 3:1", mixed)];
console.log(
  `connector-parse — Hyperliquid frames → validated StandardEvents (node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"})`,
);
console.log(
  `${REPS} rounds over ${FRAMES} distinct frames per kind, the paths alternating every ${BLOCK} frames; medians\n`,
);
const header = [
  "frames",
  "bytes/frame",
  "events/frame",
  "JSON.parse only",
  "parser → events",
  "ratio",
  "+ dedup (feed)",
  "ratio",
  "zod create()",
  "ratio",
  "tardis-dev mapper",
  "ratio",
];
const table = rows.map((r) => [
  r.name,
  r.bytes.toFixed(0),
  (r.events / r.frames).toFixed(2),
  `${k(r.json)} frames/s`,
  `${k(r.ours)} frames/s`,
  r.oursRatio.toFixed(2),
  `${k(r.feed)} frames/s`,
  r.feedRatio.toFixed(2),
  `${k(r.zod)} frames/s`,
  r.zodRatio.toFixed(2),
  `${k(r.tardis)} frames/s`,
  r.tardisRatio.toFixed(2),
]);
printTable(header, table);
console.log(
  `\nratio = frames/s ÷ JSON.parse-only frames/s on the same frames in the same run (goal ≥ 0.75).`,
);

// ---- Bybit: publicTrade and orderbook.50 delta frames (the shapes of exchanges.md §5.4 / §5.6) ----------

function bybitTradeFrames(count: number): string[] {
  const frames: string[] = [];
  for (let f = 0; f < count; f += 1) {
    const T = 1_680_652_847_524 + f * 7;
    const data = Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, i) => ({
      i: String(2_290_000_000_050_703_789n + BigInt(f * 8 + i)),
      T,
      p: (28_165.38 + (rand() - 0.5) * 20).toFixed(2),
      v: (rand() * 0.5 + 0.000001).toFixed(6),
      S: rand() < 0.5 ? "Buy" : "Sell",
      s: "BTCUSDT",
      BT: false,
    }));
    frames.push(JSON.stringify({ topic: "publicTrade.BTCUSDT", ts: T + 2, type: "snapshot", data }));
  }
  return frames;
}

function bybitDepthFrames(count: number): string[] {
  const frames: string[] = [];
  const level = (base: number): [string, string] => [
    (base + Math.floor(rand() * 400) / 100).toFixed(2),
    rand() < 0.2 ? "0" : (rand() * 2).toFixed(6),
  ];
  for (let f = 0; f < count; f += 1) {
    const b = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => level(28_158));
    const a = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => level(28_163));
    frames.push(
      JSON.stringify({
        topic: "orderbook.50.BTCUSDT",
        ts: 1_680_652_808_085 + f * 20,
        type: "delta",
        data: { s: "BTCUSDT", b, a, u: 59_438_061 + f, seq: 4_281_282_232 + f * 3 },
      }),
    );
  }
  return frames;
}

const bybitJson: Path = (frames, from, to) => {
  for (let i = from; i < to; i += 1) sink += (JSON.parse(frames[i]!) as { topic: string }).topic.length;
};

function bybitParser(): BybitParser {
  return new BybitParser({
    source: "bybit-spot",
    category: "spot",
    instruments: [{ rawSymbol: "BTCUSDT", symbol: "BTC-USDT", category: "spot", instrument: "spot" }],
  });
}

function measureBybit(
  name: string,
  kind: "trades" | "book",
  frames: string[],
): { name: string; json: number; ours: number; ratio: number; tardis: number; tardisRatio: number } {
  const check = bybitParser();
  for (const [i, text] of frames.entries()) {
    const result = check.parse(text, 1_680_652_900_000 + i);
    if (result.kind === "trades") for (const event of result.events) StandardEvent.parse(event);
    else if (result.kind !== "book") throw new Error(`bybit frame ${i}: ${result.kind}`);
  }
  const parser = bybitParser();
  // The peer: tardis-dev's Bybit v5 mapper for spot (`publicTrade` trades, `orderbook.50` book changes).
  const tardis = tardisPath(tardisMappers("bybit-spot", [kind]), 1_680_652_900_000);
  tardis.check(frames, 0, frames.length);
  const paths: Path[] = [
    bybitJson,
    (fs, from, to) => {
      for (let i = from; i < to; i += 1) sink += parser.parse(fs[i]!, 1_680_652_900_000 + i).kind.length;
    },
    tardis,
  ];
  const { rate, ratio } = summarize(timeRounds(frames, paths));
  return { name, json: rate(0), ours: rate(1), ratio: ratio(1), tardis: rate(2), tardisRatio: ratio(2) };
}

console.log(`\nBybit frames → validated events (trades) / engine deltas (depth), same method:\n`);
for (const r of [
  measureBybit("publicTrade", "trades", bybitTradeFrames(FRAMES)),
  measureBybit("orderbook.50 delta", "book", bybitDepthFrames(FRAMES)),
]) {
  console.log(
    `${r.name.padEnd(20)} | JSON.parse only ${k(r.json)} frames/s | BybitParser ${k(r.ours)} frames/s | ratio ${r.ratio.toFixed(2)} | tardis-dev mapper ${k(r.tardis)} frames/s | ratio ${r.tardisRatio.toFixed(2)}`,
  );
}

// ---- Binance: spot @trade, USDⓈ-M @aggTrade, and @depth@100ms diffs of both (exchanges.md §2.3, -derivatives §1) --

const BINANCE_MARKETS = [
  { rawSymbol: "BTCUSDT", symbol: "BTC-USDT", base: "BTC", quote: "USDT", mid: 97_674.73, tick: 0.01 },
  { rawSymbol: "ETHUSDT", symbol: "ETH-USDT", base: "ETH", quote: "USDT", mid: 2_712.4, tick: 0.01 },
  { rawSymbol: "SOLUSDT", symbol: "SOL-USDT", base: "SOL", quote: "USDT", mid: 204.31, tick: 0.01 },
];

/** Live-format trade frames, one trade each (Binance sends one per frame), over three symbols. */
function binanceTradeFrames(kind: BinanceMarketKind, count: number): string[] {
  const frames: string[] = [];
  let time = 1_738_534_577_231;
  let id = 3_412_663_610;
  for (let f = 0; f < count; f += 1) {
    const m = BINANCE_MARKETS[f % BINANCE_MARKETS.length]!;
    time += Math.floor(rand() * 40);
    id += 1 + Math.floor(rand() * 3);
    const p = (m.mid + (rand() - 0.5) * 200 * m.tick).toFixed(8);
    const q = (rand() * 0.5 + 0.00001).toFixed(8);
    const data =
      kind === "spot"
        ? { e: "trade", E: time + 1, s: m.rawSymbol, t: id, p, q, T: time, m: rand() < 0.5, M: true }
        : {
            e: "aggTrade",
            E: time + 1,
            s: m.rawSymbol,
            a: id,
            p,
            q,
            f: id * 3,
            l: id * 3 + 1,
            T: time,
            m: rand() < 0.5,
          };
    const stream = `${m.rawSymbol.toLowerCase()}@${kind === "spot" ? "trade" : "aggTrade"}`;
    frames.push(JSON.stringify({ stream, data }));
  }
  return frames;
}

/** `@depth@100ms` diffs: 1–20 changed levels a side (about 10), a fifth of them deletions (`"0.00000000"`). */
function binanceDepthFrames(kind: BinanceMarketKind, count: number): string[] {
  const frames: string[] = [];
  const ids = BINANCE_MARKETS.map(() => 687_687_944);
  let time = 1_738_534_577_231;
  for (let f = 0; f < count; f += 1) {
    const index = f % BINANCE_MARKETS.length;
    const m = BINANCE_MARKETS[index]!;
    const side = (dir: number): [string, string][] =>
      Array.from({ length: 1 + Math.floor(rand() * 20) }, () => [
        (m.mid + dir * (1 + Math.floor(rand() * 500)) * m.tick).toFixed(8),
        rand() < 0.2 ? "0.00000000" : (rand() * 5).toFixed(8),
      ]);
    time += 33;
    const pu = ids[index]!;
    const U = pu + 1;
    const u = pu + 1 + Math.floor(rand() * 30);
    ids[index] = u;
    const data: Record<string, unknown> = { e: "depthUpdate", E: time };
    if (kind === "usdm") data.T = time - 2;
    Object.assign(data, { s: m.rawSymbol, U, u });
    if (kind === "usdm") data.pu = pu;
    Object.assign(data, { b: side(-1), a: side(1) });
    frames.push(JSON.stringify({ stream: `${m.rawSymbol.toLowerCase()}@depth@100ms`, data }));
  }
  return frames;
}

const binanceJson: Path = (frames, from, to) => {
  for (let i = from; i < to; i += 1) sink += (JSON.parse(frames[i]!) as { stream: string }).stream.length;
};

interface ExchangeRow {
  name: string;
  bytes: number;
  json: number;
  parser: number;
  parserRatio: number;
  feed: number;
  feedRatio: number;
  /** The peer's rate and ratio; undefined where it has no mapper for these frames. */
  tardis?: number;
  tardisRatio?: number;
}

/**
 * The peer over Binance frames: tardis-dev's `binance` (spot) and `binance-futures` (USDⓈ-M) mappers. Its
 * trades mapper reads `@trade` streams only (no `@aggTrade`, which the connector takes on USDⓈ-M): undefined
 * then. Its book mapper publishes diffs once it has had a `depthSnapshot` message per symbol (as its own
 * real-time feed sends after subscribing): one per symbol, overlapping the first diff, goes in first.
 */
function binanceTardis(
  kind: BinanceMarketKind,
  frames: readonly string[],
): ReturnType<typeof tardisPath> | undefined {
  const exchange = kind === "spot" ? "binance" : "binance-futures";
  const first = JSON.parse(frames[0]!) as { stream: string };
  if (first.stream.endsWith("@aggTrade")) {
    const mapper = normalizeTrades(exchange, new Date());
    if (mapper.canHandle(first)) throw new Error("tardis-dev now maps @aggTrade: add its row");
    return undefined;
  }
  const depth = first.stream.includes("@depth");
  const tardis = tardisPath(tardisMappers(exchange, [depth ? "book" : "trades"]), 1_738_534_600_000);
  if (depth) {
    // Spot: the first diff must have U ≤ lastUpdateId + 1 ≤ u; USDⓈ-M: U ≤ lastUpdateId ≤ u.
    const firstU = new Map<string, number>();
    for (const text of frames) {
      const { data } = JSON.parse(text) as { data: { s: string; U: number } };
      if (!firstU.has(data.s)) firstU.set(data.s, data.U);
    }
    const snapshots = [...firstU].map(([symbol, U]) =>
      JSON.stringify({
        stream: `${symbol.toLowerCase()}@depthSnapshot`,
        data: { lastUpdateId: kind === "spot" ? U - 1 : U, bids: [], asks: [] },
      }),
    );
    tardis(snapshots, 0, snapshots.length);
  }
  tardis.check(frames, 0, frames.length);
  return tardis;
}

function measureBinance(name: string, kind: BinanceMarketKind, frames: string[]): ExchangeRow {
  const source = kind === "spot" ? "binance" : "binance-usdm";
  const markets = BINANCE_MARKETS.map(({ rawSymbol, symbol, base, quote }) => ({
    rawSymbol,
    symbol,
    base,
    quote,
  }));
  // Every frame must give what the connector publishes: a valid trade event, or a book delta.
  const check = new BinanceParser({ source, kind, markets });
  for (const [i, text] of frames.entries()) {
    const result = check.parse(text, 1_738_534_600_000 + i);
    if (result.kind === "trade" && result.event !== undefined) StandardEvent.parse(result.event);
    else if (result.kind !== "depth") throw new Error(`${name} frame ${i}: ${result.kind}`);
  }
  const parser = new BinanceParser({ source, kind, markets });
  let feed: BinanceFeed;
  const newFeed = (): void => {
    feed = new BinanceFeed({
      source,
      kind,
      markets,
      metrics: noopConnectorMetrics,
      hooks: {
        publish: () => (sink += 1),
        error: () => undefined,
        delta: (_raw, delta) => (sink += delta.last & 1),
      },
    });
  };
  newFeed();
  const paths: Path[] = [
    binanceJson,
    (fs, from, to) => {
      for (let i = from; i < to; i += 1) sink += parser.parse(fs[i]!, 1_738_534_600_000 + i).kind.length;
    },
    (fs, from, to) => {
      for (let i = from; i < to; i += 1) feed.handleFrame(fs[i]!, 1_738_534_600_000 + i);
    },
  ];
  const tardis = binanceTardis(kind, frames);
  if (tardis !== undefined) paths.push(tardis);
  // A fresh de-duplicator per round: every trade is new, as live.
  const { rate, ratio } = summarize(timeRounds(frames, paths, newFeed));
  return {
    name,
    bytes: frames.reduce((sum, f) => sum + f.length, 0) / frames.length,
    json: rate(0),
    parser: rate(1),
    parserRatio: ratio(1),
    feed: rate(2),
    feedRatio: ratio(2),
    ...(tardis === undefined ? {} : { tardis: rate(3), tardisRatio: ratio(3) }),
  };
}

console.log(
  `\nBinance frames → validated events (trades) / book deltas for the engine (depth), same method:\n`,
);
const binanceHeader = [
  "frames",
  "bytes/frame",
  "JSON.parse only",
  "BinanceParser",
  "ratio",
  "+ dedup (BinanceFeed)",
  "ratio",
  "tardis-dev mapper",
  "ratio",
];
const binanceTable = [
  measureBinance("spot @trade", "spot", binanceTradeFrames("spot", FRAMES)),
  measureBinance("USDⓈ-M @aggTrade", "usdm", binanceTradeFrames("usdm", FRAMES)),
  measureBinance("spot @depth@100ms", "spot", binanceDepthFrames("spot", FRAMES)),
  measureBinance("USDⓈ-M @depth@100ms", "usdm", binanceDepthFrames("usdm", FRAMES)),
].map((r) => [
  r.name,
  r.bytes.toFixed(0),
  `${k(r.json)} frames/s`,
  `${k(r.parser)} frames/s`,
  r.parserRatio.toFixed(2),
  `${k(r.feed)} frames/s`,
  r.feedRatio.toFixed(2),
  r.tardis === undefined ? "— (no @aggTrade mapper)" : `${k(r.tardis)} frames/s`,
  r.tardisRatio === undefined ? "—" : r.tardisRatio.toFixed(2),
]);
printTable(binanceHeader, binanceTable);
if (sink === -1) console.log("");
