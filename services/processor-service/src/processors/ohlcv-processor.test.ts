import { readFileSync } from "node:fs";
import { type StandardEvent, StandardEvent as Events } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { deterministicId } from "../deterministic-id.js";
import { LATE_TRADE, OhlcvProcessor } from "./ohlcv-processor.js";

interface RecordedTrade {
  trade_id: string;
  timestamp: string;
  price: number;
  volume: number;
}
interface ExpectedCandle {
  after?: string;
  interval: string;
  timestamp: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  trades: number;
}
interface Fixture {
  intervals: string[];
  latenessMs: number;
  trades: RecordedTrade[];
  expected: ExpectedCandle[];
  late: { trade_id: string; intervals: string[] }[];
  open: ExpectedCandle[];
}

const fixture = JSON.parse(
  readFileSync(new URL("../../test/fixtures/ohlcv-edges.json", import.meta.url), "utf8"),
) as Fixture;

function trade(t: RecordedTrade, symbol = "BTC-USD", source = "test"): StandardEvent {
  return Events.create({
    event_type: "trade",
    source,
    payload: { symbol, price: t.price, volume: t.volume, timestamp: t.timestamp, trade_id: t.trade_id },
  });
}

function candleFields(e: StandardEvent) {
  if (e.event_type !== "ohlcv") throw new Error(`not a candle: ${e.event_type}`);
  const p = e.payload;
  return {
    interval: p.interval,
    timestamp: p.timestamp,
    open: p.open,
    high: p.high,
    low: p.low,
    close: p.close,
    volume: p.volume,
    trades: p.trades,
  };
}

describe("OhlcvProcessor on a recorded sequence", () => {
  it("emits every candle when its bucket closes, exactly as computed by hand", () => {
    const ohlcv = new OhlcvProcessor(null, { intervals: fixture.intervals, latenessMs: fixture.latenessMs });
    const emitted: (ExpectedCandle & { after: string })[] = [];
    const late: { trade_id: string; intervals: unknown }[] = [];
    for (const t of fixture.trades) {
      const out = ohlcv.process(trade(t));
      expect(out[0]!.event_type).toBe("trade"); // the trade passes through first
      for (const e of out.slice(1)) {
        if (e.event_type === "ohlcv") {
          expect(e.payload.closed).toBe(true);
          expect(e.timestamp).toBe(e.payload.timestamp); // event time = bucket open time
          emitted.push({ after: t.trade_id, ...(candleFields(e) as ExpectedCandle) });
        } else if (e.event_type === "error") {
          expect(e.payload.error_code).toBe(LATE_TRADE);
          expect(e.parent_event_id).toBe(out[0]!.event_id);
          late.push({ trade_id: t.trade_id, intervals: e.payload.details["intervals"] });
        }
      }
    }
    expect(emitted).toEqual(fixture.expected);
    expect(late).toEqual(fixture.late);
    expect(Object.fromEntries(ohlcv.lateTrades())).toEqual({ "1m": 1 });
    // Open buckets are not emitted until they close; drained at a final stop as partial candles.
    const open = ohlcv.drainOpen().map((e) => {
      expect(e.event_type === "ohlcv" && e.payload.closed).toBe(false);
      return candleFields(e);
    });
    expect(open).toEqual(fixture.open);
  });

  it("sums volume exactly: 0.1 + 0.2 + 0.3 + 0.25 is 0.85, not 0.8500000000000001", () => {
    const first = fixture.expected[0]!;
    expect(0.1 + 0.2 + 0.3 + 0.25).not.toBe(0.85);
    expect(first.volume).toBe(0.85);
  });

  it("gives a closed candle an id derived from source|symbol|interval|bucket", () => {
    const ohlcv = new OhlcvProcessor(null, { intervals: ["1m"] });
    ohlcv.process(trade({ trade_id: "x1", timestamp: "2024-01-15T10:00:10.000Z", price: 1, volume: 1 }));
    const out = ohlcv.process(
      trade({ trade_id: "x2", timestamp: "2024-01-15T10:01:00.000Z", price: 1, volume: 1 }),
    );
    const candle = out.find((e) => e.event_type === "ohlcv")!;
    expect(candle.event_id).toBe(
      deterministicId("ohlcv", "test", "BTC-USD", "1m", Date.parse("2024-01-15T10:00:00Z")),
    );
  });

  it("aggregates the trades of any source the same way, one instrument per (source, symbol)", () => {
    // BTC-USDT on binance (spot) and binance-usdm (perpetual) are two instruments: two candles.
    const ohlcv = new OhlcvProcessor(null, { intervals: ["1m"] });
    const sources = ["binance", "binance-usdm", "bybit-spot", "bybit-linear", "hyperliquid"];
    const candles: StandardEvent[] = [];
    for (const [i, source] of sources.entries()) {
      const t = (id: string, timestamp: string, price: number) =>
        trade({ trade_id: id, timestamp, price, volume: 0.5 }, "BTC-USDT", source);
      ohlcv.process(t("a", "2024-01-15T10:00:01.000Z", 100 + i));
      ohlcv.process(t("b", "2024-01-15T10:00:30.000Z", 110 + i));
      candles.push(
        ...ohlcv.process(t("c", "2024-01-15T10:01:00.000Z", 90)).filter((e) => e.event_type === "ohlcv"),
      );
    }
    expect(candles.map((c) => [c.source, candleFields(c)])).toEqual(
      sources.map((source, i) => [
        source,
        {
          interval: "1m",
          timestamp: "2024-01-15T10:00:00.000Z",
          open: 100 + i,
          high: 110 + i,
          low: 100 + i,
          close: 110 + i,
          volume: 1,
          trades: 2,
        },
      ]),
    );
    expect(new Set(candles.map((c) => c.event_id)).size).toBe(sources.length);
  });

  it("emits partial candles (closed: false) while a bucket is open when asked", () => {
    const ohlcv = new OhlcvProcessor(null, { intervals: ["1m"], partial: true });
    const a = ohlcv.process(
      trade({ trade_id: "p1", timestamp: "2024-01-15T10:00:10.000Z", price: 5, volume: 1 }),
    );
    const b = ohlcv.process(
      trade({ trade_id: "p2", timestamp: "2024-01-15T10:00:20.000Z", price: 7, volume: 2 }),
    );
    const partialA = a.find((e) => e.event_type === "ohlcv")!;
    const partialB = b.find((e) => e.event_type === "ohlcv")!;
    expect(candleFields(partialA)).toMatchObject({ open: 5, close: 5, volume: 1, trades: 1 });
    expect(candleFields(partialB)).toMatchObject({ open: 5, high: 7, close: 7, volume: 3, trades: 2 });
    expect(partialA.event_type === "ohlcv" && partialA.payload.closed).toBe(false);
    expect(partialA.event_id).not.toBe(partialB.event_id);
  });

  it("keeps symbols apart and restores a checkpointed state exactly", () => {
    const intervals = ["1m", "5m"];
    const straight = new OhlcvProcessor(null, { intervals, latenessMs: 2000 });
    const first = new OhlcvProcessor(null, { intervals, latenessMs: 2000 });
    const outStraight: unknown[] = [];
    const outSplit: unknown[] = [];
    const cut = 5;
    fixture.trades.forEach((t, i) => {
      for (const symbol of ["BTC-USD", "ETH-USD"]) {
        const e = trade(t, symbol);
        outStraight.push(
          ...straight
            .process(e)
            .filter((o) => o.event_type === "ohlcv")
            .map(candleFields),
        );
        if (i < cut)
          outSplit.push(
            ...first
              .process(e)
              .filter((o) => o.event_type === "ohlcv")
              .map(candleFields),
          );
      }
    });
    // "Restart": a new processor from the exported state of the first, through JSON as in the KV store.
    const second = new OhlcvProcessor(null, { intervals, latenessMs: 2000 });
    for (const symbol of ["BTC-USD", "ETH-USD"]) {
      second.importState("test", symbol, JSON.parse(JSON.stringify(first.exportState("test", symbol))));
    }
    fixture.trades.slice(cut).forEach((t) => {
      for (const symbol of ["BTC-USD", "ETH-USD"]) {
        outSplit.push(
          ...second
            .process(trade(t, symbol))
            .filter((o) => o.event_type === "ohlcv")
            .map(candleFields),
        );
      }
    });
    expect(outSplit).toEqual(outStraight);
    expect(outStraight).toHaveLength(fixture.expected.length * 2);
  });
});

/** A seeded PRNG (mulberry32), so the generated sequence is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("OhlcvProcessor against an independent oracle", () => {
  it("matches batch-computed candles for a long jittered sequence (out-of-order and late trades)", () => {
    const intervalsMs: Record<string, number> = {
      "1m": 60_000,
      "3m": 180_000,
      "15m": 900_000,
      "1h": 3_600_000,
    };
    const latenessMs = 1500;
    const random = rng(42);
    const start = Date.parse("2024-03-01T00:00:00.000Z");
    interface Gen {
      symbol: string;
      time: number;
      price: number;
      sats: bigint;
      id: string;
    }
    const trades: Gen[] = [];
    for (const symbol of ["BTC-USD", "ETH-USD"]) {
      let time = start;
      for (let i = 0; i < 3000; i++) {
        time += Math.floor(random() * 4000); // often several trades on the same ms or bucket edge
        if (random() < 0.05) time = Math.ceil(time / 60_000) * 60_000; // exactly on an edge
        const jitter = random() < 0.2 ? Math.floor(random() * 8000) : 0; // delivered up to 8 s late
        trades.push({
          symbol,
          time: time - jitter,
          price: 100 + Math.floor(random() * 1000) / 100,
          sats: BigInt(1 + Math.floor(random() * 300_000_000)),
          id: `${symbol}-${i}`,
        });
      }
    }
    // Interleave symbols deterministically, keeping each symbol's delivery order.
    trades.sort(
      (a, b) =>
        Number(a.id.split("-").at(-1)) - Number(b.id.split("-").at(-1)) || a.symbol.localeCompare(b.symbol),
    );

    // Oracle: decide lateness by the running maximum per symbol, then group what is not late.
    const maxTime = new Map<string, number>();
    const groups = new Map<string, Gen[]>();
    let lateCount = 0;
    for (const t of trades) {
      const max = Math.max(maxTime.get(t.symbol) ?? -Infinity, t.time);
      maxTime.set(t.symbol, max);
      for (const [name, len] of Object.entries(intervalsMs)) {
        const bucket = Math.floor(t.time / len) * len;
        if (bucket + len <= max - latenessMs) {
          lateCount++;
          continue;
        }
        const key = `${t.symbol}|${name}|${bucket}`;
        groups.set(key, [...(groups.get(key) ?? []), t]);
      }
    }
    const expected = new Map<string, object>();
    for (const [key, list] of groups) {
      const [symbol, name, bucket] = key.split("|") as [string, string, string];
      const len = intervalsMs[name]!;
      if (Number(bucket) + len > maxTime.get(symbol)! - latenessMs) continue; // still open at the end
      let open = list[0]!;
      let close = list[0]!;
      for (const t of list) {
        if (t.time < open.time) open = t;
        if (t.time >= close.time) close = t;
      }
      const sats = list.reduce((s, t) => s + t.sats, 0n);
      const volume = Number(`${sats / 100_000_000n}.${(sats % 100_000_000n).toString().padStart(8, "0")}`);
      expected.set(key, {
        open: open.price,
        high: Math.max(...list.map((t) => t.price)),
        low: Math.min(...list.map((t) => t.price)),
        close: close.price,
        volume,
        trades: list.length,
      });
    }

    const ohlcv = new OhlcvProcessor(null, { intervals: Object.keys(intervalsMs), latenessMs });
    const actual = new Map<string, object>();
    let inexactFloatSums = 0;
    for (const t of trades) {
      const out = ohlcv.process(
        Events.create({
          event_type: "trade",
          source: "oracle",
          payload: {
            symbol: t.symbol,
            price: t.price,
            volume: Number(t.sats) / 1e8,
            timestamp: new Date(t.time).toISOString(),
            trade_id: t.id,
          },
        }),
      );
      for (const e of out) {
        if (e.event_type !== "ohlcv") continue;
        const p = e.payload;
        const key = `${p.symbol}|${p.interval}|${Date.parse(p.timestamp)}`;
        expect(actual.has(key)).toBe(false); // each bucket closes once
        actual.set(key, {
          open: p.open,
          high: p.high,
          low: p.low,
          close: p.close,
          volume: p.volume,
          trades: p.trades,
        });
        const floatSum = groups.get(key)!.reduce((s, t) => s + Number(t.sats) / 1e8, 0);
        if (floatSum !== p.volume) inexactFloatSums++;
      }
    }
    expect(lateCount).toBeGreaterThan(0);
    expect([...ohlcv.lateTrades().values()].reduce((a, b) => a + b, 0)).toBe(lateCount);
    expect(actual.size).toBe(expected.size);
    for (const [key, candle] of expected) expect(actual.get(key), key).toEqual(candle);
    expect(inexactFloatSums).toBeGreaterThan(0); // a float accumulator would have been wrong here
  });
});
