import { type Stage, type StandardEvent, markProcessed, stageOf } from "@market-scraper/events";
import {
  makeDerivativeTicker,
  makeError,
  makeHeartbeat,
  makeLiquidation,
  makeOhlcv,
  makeOrderBook,
  makeTicker,
  makeTrade,
} from "@market-scraper/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StorageQueries } from "../src/query/storage-queries.js";
import { eventRow, isoToMicros } from "../src/store/event-row.js";
import type { Store } from "../src/store/store.js";

export interface StoreFixture {
  store: Store;
  /** A second store on the same database (for concurrent migrations); optional. */
  another?: () => Store;
  cleanup(): Promise<void>;
}

const DAY_MS = 86_400_000;
const T0 = Date.parse("2024-03-01T00:00:00.000Z");

function rowOf(event: StandardEvent, stage: Stage = stageOf(event)) {
  return eventRow(event, stage, JSON.stringify(event));
}

/** Plain JSON of an event, as a store returns it. */
function json(event: StandardEvent): unknown {
  return JSON.parse(JSON.stringify(event));
}

function sortKey(e: StandardEvent, stage: string): [number, string, string] {
  return [isoToMicros(e.timestamp)!, e.event_id.toLowerCase(), stage];
}

function compareKeys(a: [number, string, string], b: [number, string, string]): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}

/** The contract every `Store` implementation passes (PostgreSQL and SQLite). */
export function storeContract(name: string, open: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;
    let queries: StorageQueries;

    beforeEach(async () => {
      fx = await open();
      store = fx.store;
      await store.migrate();
      queries = new StorageQueries(store, { consumerLag: async () => 7 });
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it("migrations are idempotent and safe to run concurrently", async () => {
      await store.migrate();
      if (fx.another !== undefined) {
        const others = [fx.another(), fx.another(), fx.another()];
        await Promise.all(others.map((s) => s.migrate()));
        await Promise.all(others.map((s) => s.close()));
      }
      expect(await store.insert([rowOf(makeTrade())])).toBe(1);
    });

    it("stores each event once: inserts are idempotent, duplicates in one batch included", async () => {
      const trades = Array.from({ length: 5 }, (_, i) =>
        makeTrade({ timestamp: new Date(T0 + i * 1000).toISOString() }),
      );
      const rows = trades.map((t) => rowOf(t));
      expect(await store.insert(rows)).toBe(5);
      expect(await store.insert(rows)).toBe(0);
      expect(
        await store.insert([
          ...rows.slice(0, 2),
          rows[0]!,
          rowOf(makeTrade({ timestamp: new Date(T0).toISOString() })),
        ]),
      ).toBe(1);
      expect((await store.stats()).total_events).toBe(6);
    });

    it("returns the whole event as it was received, unknown keys included", async () => {
      const trade = {
        ...makeTrade({ payload: { side: "buy", trade_id: "x1" } }),
        extra_field: { nested: [1, 2] },
      };
      await store.insert([eventRow(trade, "market", JSON.stringify(trade))]);
      const page = await queries.events({});
      expect(page.data).toEqual([json(trade)]);
    });

    it("keeps the body's key order as received (not re-ordered as PostgreSQL jsonb would)", async () => {
      const trade = makeTrade();
      const { payload, ...envelope } = trade;
      const reordered = { zz_last_first: true, payload, ...envelope, aa_first_last: 1.5 };
      await store.insert([eventRow(trade, "market", JSON.stringify(reordered))]);
      const { events } = await store.page({ order: "asc", limit: 10 });
      const [stored] = events as Record<string, unknown>[];
      expect(Object.keys(stored!)).toEqual(Object.keys(reordered));
    });

    it("keys by (event_id, timestamp, stage): the processed copy of an event is stored beside the market one", async () => {
      const trade = makeTrade();
      const processed = markProcessed(trade, T0);
      expect(await store.insert([rowOf(trade), rowOf(processed)])).toBe(2);
      expect((await queries.events({ stage: "market" })).data).toEqual([json(trade)]);
      expect((await queries.events({ stage: "processed" })).data).toEqual([json(processed)]);
    });

    it("filters by stage, type, source, symbol and time range (start inclusive, end exclusive)", async () => {
      const at = (ms: number) => new Date(T0 + ms).toISOString();
      const events = [
        makeTrade({ source: "a", symbol: "BTC-USD", timestamp: at(0) }),
        makeTrade({ source: "a", symbol: "ETH-USD", timestamp: at(1000) }),
        makeTrade({ source: "b", symbol: "BTC-USD", timestamp: at(2000) }),
        makeTicker({ source: "a", symbol: "BTC-USD", timestamp: at(3000) }),
        makeHeartbeat({ source: "a", timestamp: at(4000) }),
      ];
      await store.insert(events.map((e) => rowOf(e)));
      const ids = async (q: object) => (await queries.events(q)).data.map((e) => e.event_id);
      expect(await ids({ event_type: "trade" })).toEqual(events.slice(0, 3).map((e) => e.event_id));
      expect(await ids({ source: "a", symbol: "BTC-USD" })).toEqual([
        events[0]!.event_id,
        events[3]!.event_id,
      ]);
      expect(await ids({ stage: "system" })).toEqual([events[4]!.event_id]);
      expect(await ids({ start: at(1000), end: at(3000) })).toEqual([
        events[1]!.event_id,
        events[2]!.event_id,
      ]);
      expect(await ids({ event_type: "trade", order: "desc", limit: 2 })).toEqual([
        events[2]!.event_id,
        events[1]!.event_id,
      ]);
    });

    it("orders by time to the microsecond", async () => {
      const a = makeTrade({ timestamp: "2024-03-01T00:00:00.000002Z" });
      const b = makeTrade({ timestamp: "2024-03-01T00:00:00.000001Z" });
      await store.insert([rowOf(a), rowOf(b)]);
      expect((await queries.events({})).data.map((e) => e.event_id)).toEqual([b.event_id, a.event_id]);
      const page = await queries.events({ start: "2024-03-01T00:00:00.000002Z" });
      expect(page.data.map((e) => e.event_id)).toEqual([a.event_id]);
    });

    it("pages through ranges spanning days (partitions) without gaps or repeats, both directions", async () => {
      // 5 days, several events sharing each timestamp, plus processed copies with the same key.
      const events: { event: StandardEvent; stage: Stage }[] = [];
      for (let i = 0; i < 120; i++) {
        const ts = new Date(T0 + Math.floor(i / 3) * (DAY_MS / 8)).toISOString();
        const trade = makeTrade({ symbol: i % 4 === 0 ? "ETH-USD" : "BTC-USD", timestamp: ts });
        events.push({ event: trade, stage: "market" });
        if (i % 5 === 0) events.push({ event: markProcessed(trade, T0), stage: "processed" });
      }
      // Insert in two shuffled batches.
      const shuffled = [...events].sort(() => Math.random() - 0.5);
      const rows = shuffled.map(({ event, stage }) => rowOf(event, stage));
      await store.insert(rows.slice(0, 70));
      await store.insert(rows.slice(70));
      const start = new Date(T0 + DAY_MS / 2).toISOString();
      const end = new Date(T0 + 4 * DAY_MS + 1).toISOString();
      for (const filter of [{}, { symbol: "BTC-USD" }, { start, end }, { stage: "processed" as const }]) {
        const expected = events
          .filter(({ event, stage }) => {
            const f = filter as { symbol?: string; start?: string; end?: string; stage?: string };
            const us = isoToMicros(event.timestamp)!;
            return (
              (f.symbol === undefined || (event.payload as { symbol: string }).symbol === f.symbol) &&
              (f.stage === undefined || f.stage === stage) &&
              (f.start === undefined || us >= isoToMicros(f.start)!) &&
              (f.end === undefined || us < isoToMicros(f.end)!)
            );
          })
          .sort((x, y) => compareKeys(sortKey(x.event, x.stage), sortKey(y.event, y.stage)))
          .map(({ event, stage }) => `${event.event_id}/${stage}`);
        expect(expected.length).toBeGreaterThan(5);
        for (const order of ["asc", "desc"] as const) {
          const seen: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await queries.events({ ...filter, order, limit: 7, ...(cursor ? { cursor } : {}) });
            expect(page.data.length).toBeLessThanOrEqual(7);
            seen.push(...page.data.map((e) => `${e.event_id}/${e.processed_at ? "processed" : "market"}`));
            cursor = page.next_cursor ?? undefined;
            pages++;
          } while (cursor !== undefined && pages < 100);
          expect(seen).toEqual(order === "asc" ? expected : [...expected].reverse());
        }
      }
    });

    it("answers bad requests and bad cursors with BAD_REQUEST", async () => {
      for (const request of [
        { limit: 5000 },
        { cursor: "not-a-cursor!" },
        { cursor: Buffer.from("[1,2,3]").toString("base64url") },
        { event_type: "nope" },
        { unknown_field: 1 },
        { start: "yesterday" },
      ]) {
        const result = await queries.handle("events", request);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.code).toBe("BAD_REQUEST");
      }
      const candles = await queries.handle("candles", { interval: "1m" });
      expect(candles.ok ? null : candles.error.code).toBe("BAD_REQUEST");
    });

    it("returns the latest event per (source, symbol)", async () => {
      const at = (ms: number) => new Date(T0 + ms).toISOString();
      const old = makeTicker({ source: "a", symbol: "BTC-USD", timestamp: at(0) });
      const newest = makeTicker({ source: "a", symbol: "BTC-USD", timestamp: at(5000) });
      const eth = makeTicker({ source: "a", symbol: "ETH-USD", timestamp: at(1000) });
      const otherSource = makeTicker({ source: "b", symbol: "BTC-USD", timestamp: at(2000) });
      const trade = makeTrade({ source: "a", symbol: "BTC-USD", timestamp: at(9000) });
      await store.insert([old, newest, eth, otherSource, trade].map((e) => rowOf(e)));
      const latest = await queries.latest({ event_type: "ticker" });
      expect(latest.data).toEqual([json(newest), json(eth), json(otherSource)]);
      expect((await queries.latest({ event_type: "ticker", source: "a", symbol: "BTC-USD" })).data).toEqual([
        json(newest),
      ]);
      expect((await queries.latest({ event_type: "ticker", stage: "processed" })).data).toEqual([]);
    });

    it("the latest order book of one source: the newest time, then the highest exchange sequence", async () => {
      const at = (ms: number) => new Date(T0 + ms).toISOString();
      const book = (source: string, ms: number, sequence: unknown, event_id: string) =>
        ({
          ...makeOrderBook({ source, symbol: "BTC-USDT", timestamp: at(ms), event_id }),
          payload: { ...makeOrderBook({ symbol: "BTC-USDT", timestamp: at(ms) }).payload, sequence },
        }) as StandardEvent;
      // Two books in one millisecond: the higher sequence is the newer, whatever the ids say.
      const older = book("binance", 1000, 10, "ffffffff-ffff-7fff-bfff-ffffffffffff");
      const newer = book("binance", 1000, 11, "00000000-0000-7000-8000-000000000001");
      const earlier = book("binance", 0, 99, "00000000-0000-7000-8000-000000000002");
      // A sequence that is not a number (never valid, but stored by no schema check) does not count.
      const textual = book("binance", 1000, "zzz", "ffffffff-ffff-7fff-bfff-fffffffffffe");
      const perp = book("binance-usdm", 500, 5, "00000000-0000-7000-8000-000000000003");
      await store.insert([older, newer, earlier, textual, perp].map((e) => rowOf(e)));
      const one = { event_type: "order_book", symbol: "BTC-USDT" } as const;
      expect((await queries.latest({ ...one, source: "binance" })).data).toEqual([json(newer)]);
      expect((await queries.latest({ ...one, source: "binance-usdm" })).data).toEqual([json(perp)]);
      expect((await queries.latest(one)).data).toEqual([json(newer), json(perp)]);
      expect((await queries.latest({ ...one, source: "binance", stage: "processed" })).data).toEqual([]);
    });

    it("stores liquidations and derivative tickers and answers queries on them", async () => {
      const at = (ms: number) => new Date(T0 + ms).toISOString();
      const liquidations = [0, 1, 2].map((i) =>
        makeLiquidation({ source: "bybit-linear", symbol: "BTC-USDT", timestamp: at(i * 1000) }),
      );
      const otherLiquidation = makeLiquidation({
        source: "binance-usdm",
        symbol: "ETH-USDT",
        timestamp: at(0),
      });
      const tickers = [0, 1].map((i) =>
        makeDerivativeTicker({
          source: "bybit-linear",
          symbol: "BTC-USDT",
          timestamp: at(i * 1000),
          payload: { funding_rate: 0.0001 * (i + 1) },
        }),
      );
      const processed = markProcessed(liquidations[0]!, T0);
      await store.insert(
        [...liquidations, otherLiquidation, ...tickers].map((e) => rowOf(e)).concat(rowOf(processed)),
      );
      expect(
        (await queries.events({ event_type: "liquidation", source: "bybit-linear", stage: "market" })).data,
      ).toEqual(liquidations.map(json));
      expect((await queries.events({ event_type: "liquidation", stage: "processed" })).data).toEqual([
        json(processed),
      ]);
      expect((await queries.events({ event_type: "liquidation", symbol: "ETH-USDT" })).data).toEqual([
        json(otherLiquidation),
      ]);
      expect(
        (
          await queries.latest({
            event_type: "derivative_ticker",
            source: "bybit-linear",
            symbol: "BTC-USDT",
          })
        ).data,
      ).toEqual([json(tickers[1]!)]);
      const markets = (await queries.markets({ source: "bybit-linear" })).data;
      expect(markets.map((m) => [m.symbol, m.event_types])).toEqual([
        ["BTC-USDT", ["derivative_ticker", "liquidation"]],
      ]);
      expect((await queries.stats({})).by_type).toEqual({ liquidation: 5, derivative_ticker: 2 });
    });

    it("serves candles by symbol, interval, stage and range", async () => {
      const m1 = [0, 1, 2].map((i) =>
        markProcessed(
          makeOhlcv({
            symbol: "BTC-USD",
            timestamp: new Date(T0 + i * 60_000).toISOString(),
            payload: { interval: "1m" },
          }),
          T0,
        ),
      );
      const h1 = markProcessed(
        makeOhlcv({ symbol: "BTC-USD", timestamp: new Date(T0).toISOString(), payload: { interval: "1h" } }),
        T0,
      );
      const exchange = makeOhlcv({
        symbol: "BTC-USD",
        timestamp: new Date(T0).toISOString(),
        payload: { interval: "1m" },
      });
      await store.insert([...m1, h1, exchange].map((e) => rowOf(e)));
      const page1 = await queries.candles({ symbol: "BTC-USD", interval: "1m", limit: 2 });
      expect(page1.data).toEqual([json(m1[0]!), json(m1[1]!)]);
      const page2 = await queries.candles({
        symbol: "BTC-USD",
        interval: "1m",
        limit: 2,
        cursor: page1.next_cursor!,
      });
      expect(page2).toEqual({ data: [json(m1[2]!)], next_cursor: null });
      expect((await queries.candles({ symbol: "BTC-USD", interval: "1m", stage: "market" })).data).toEqual([
        json(exchange),
      ]);
      expect((await queries.candles({ symbol: "BTC-USD", interval: "1h" })).data).toEqual([json(h1)]);
    });

    it("lists markets and stats", async () => {
      const at = (ms: number) => new Date(T0 + ms).toISOString();
      await store.insert(
        [
          makeTrade({ source: "a", symbol: "BTC-USD", timestamp: at(0) }),
          makeTicker({ source: "a", symbol: "BTC-USD", timestamp: at(5000) }),
          makeTrade({ source: "b", symbol: "ETH-USD", timestamp: at(1000) }),
          makeError({ source: "a", timestamp: at(9000) }),
        ].map((e) => rowOf(e)),
      );
      expect(await queries.markets({})).toEqual({
        data: [
          {
            source: "a",
            symbol: "BTC-USD",
            event_types: ["ticker", "trade"],
            first_timestamp: "2024-03-01T00:00:00.000Z",
            last_timestamp: "2024-03-01T00:00:05.000Z",
          },
          {
            source: "b",
            symbol: "ETH-USD",
            event_types: ["trade"],
            first_timestamp: "2024-03-01T00:00:01.000Z",
            last_timestamp: "2024-03-01T00:00:01.000Z",
          },
        ],
      });
      expect((await queries.markets({ source: "b" })).data.map((m) => m.symbol)).toEqual(["ETH-USD"]);
      expect(await queries.stats({})).toEqual({
        total_events: 4,
        by_type: { trade: 2, ticker: 1, error: 1 },
        oldest_timestamp: "2024-03-01T00:00:00.000Z",
        newest_timestamp: "2024-03-01T00:00:09.000Z",
        consumer_lag: 7,
      });
    });

    it("applies retention per event type", async () => {
      const now = T0 + 30 * DAY_MS;
      const at = (daysAgo: number) => new Date(now - daysAgo * DAY_MS).toISOString();
      const oldTrades = [10, 9, 8].map((d) => makeTrade({ timestamp: at(d) }));
      const newTrade = makeTrade({ timestamp: at(1) });
      const oldCandle = makeOhlcv({ timestamp: at(10), payload: { interval: "1m" } });
      await store.insert([...oldTrades, newTrade, oldCandle].map((e) => rowOf(e)));
      const result = await store.applyRetention(new Map([["trade", 7 * DAY_MS]]), now);
      expect(result.deleted).toBe(3);
      const stats = await store.stats();
      expect(stats.by_type).toEqual({ trade: 1, ohlcv: 1 });
    });
  });
}
