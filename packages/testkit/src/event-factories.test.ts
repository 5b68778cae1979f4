import { EVENT_TYPES, EventType, StandardEvent, decodeEvent, encodeEvent } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_EVENT_TIME,
  intervalMs,
  makeConnectorStatus,
  makeCustom,
  makeDerivativeTicker,
  makeError,
  makeHeartbeat,
  makeLiquidation,
  makeOhlcv,
  makeOrderBook,
  makeTicker,
  makeTrade,
  makeTrades,
} from "./event-factories.js";

const factories = {
  [EventType.TRADE]: makeTrade,
  [EventType.TICKER]: makeTicker,
  [EventType.ORDER_BOOK]: makeOrderBook,
  [EventType.OHLCV]: makeOhlcv,
  [EventType.LIQUIDATION]: makeLiquidation,
  [EventType.DERIVATIVE_TICKER]: makeDerivativeTicker,
  [EventType.ERROR]: makeError,
  [EventType.HEARTBEAT]: makeHeartbeat,
  [EventType.CONNECTOR_STATUS]: makeConnectorStatus,
  [EventType.CUSTOM]: makeCustom,
} as const;

describe("event factories", () => {
  it("one per event type", () => {
    expect(Object.keys(factories).sort()).toEqual([...EVENT_TYPES].sort());
  });

  it.each(Object.entries(factories))("%s: a valid event of its type that survives the wire", (type, make) => {
    const event = make();
    expect(event.event_type).toBe(type);
    expect(event.source).toBe("test");
    expect(StandardEvent.parse(JSON.parse(JSON.stringify(event)))).toEqual(event);
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
  });

  it("market data defaults: BTC-USD at a fixed time", () => {
    for (const event of [makeTrade(), makeTicker(), makeOrderBook()]) {
      expect(event.payload.symbol).toBe("BTC-USD");
      expect(event.timestamp).toBe(DEFAULT_EVENT_TIME);
    }
    expect(makeTrade().payload).toMatchObject({ price: 50_000, volume: 0.1, timestamp: DEFAULT_EVENT_TIME });
    const book = makeOrderBook().payload;
    expect(book.bid).toBeLessThan(book.ask);
    expect(makeLiquidation().payload).toMatchObject({
      symbol: "BTC-USD",
      side: "sell",
      timestamp: DEFAULT_EVENT_TIME,
    });
    expect(makeDerivativeTicker({ timestamp: "2024-01-15T10:30:00.000Z" }).payload).toMatchObject({
      symbol: "BTC-USD",
      timestamp: "2024-01-15T10:30:00.000Z",
      next_funding_time: "2024-01-15T16:00:00.000Z",
    });
  });

  it("applies source, symbol, timestamp and payload overrides (payload last)", () => {
    const trade = makeTrade({
      source: "hyperliquid",
      symbol: "ETH-USD",
      timestamp: new Date("2024-02-01T00:00:00Z"),
      payload: { price: 3_000, side: "sell", raw_symbol: "ETH" },
      priority: 3,
    });
    expect(trade).toMatchObject({
      source: "hyperliquid",
      timestamp: "2024-02-01T00:00:00.000Z",
      priority: 3,
      payload: {
        symbol: "ETH-USD",
        price: 3_000,
        side: "sell",
        raw_symbol: "ETH",
        timestamp: "2024-02-01T00:00:00.000Z",
      },
    });
    expect(makeTrade({ symbol: "ETH-USD", payload: { symbol: "SOL-USD" } }).payload.symbol).toBe("SOL-USD");
    // The envelope follows a payload time unless given explicitly.
    expect(makeTrade({ payload: { timestamp: "2024-03-01T00:00:00Z" } }).timestamp).toBe(
      "2024-03-01T00:00:00Z",
    );
  });

  it("keeps envelope overrides such as ids and correlation", () => {
    const parent = makeTrade();
    const child = makeOhlcv({
      parent_event_id: parent.event_id,
      correlation_id: parent.correlation_id ?? null,
    });
    expect(child.parent_event_id).toBe(parent.event_id);
    expect(child.correlation_id).toBe(parent.correlation_id);
    expect(makeError().priority).toBe(1);
    expect(makeHeartbeat({ source: "storage-service" }).payload).toMatchObject({
      service: "storage-service",
      instance: "storage-service-1",
    });
    expect(makeConnectorStatus({ payload: { status: "stale" } }).payload.status).toBe("stale");
    expect(makeCustom({ payload: { name: "tick", data: [1, 2] } }).payload).toEqual({
      name: "tick",
      data: [1, 2],
    });
  });

  it("gives every trade its own trade_id and event_id", () => {
    const trades = [makeTrade(), makeTrade(), makeTrade()];
    expect(new Set(trades.map((t) => t.payload.trade_id)).size).toBe(3);
    expect(new Set(trades.map((t) => t.event_id)).size).toBe(3);
  });

  it("aligns candles to their interval bucket", () => {
    const candle = makeOhlcv({ timestamp: "2024-01-15T10:33:27.500Z", payload: { interval: "5m" } });
    expect(candle.payload).toMatchObject({ interval: "5m", timestamp: "2024-01-15T10:30:00.000Z" });
    expect(candle.timestamp).toBe("2024-01-15T10:30:00.000Z");
    const { open, high, low, close } = candle.payload;
    expect(high).toBeGreaterThanOrEqual(Math.max(open, close));
    expect(low).toBeLessThanOrEqual(Math.min(open, close));
    expect(makeOhlcv({ payload: { timestamp: "2024-01-15T10:31:00Z" } }).payload.timestamp).toBe(
      "2024-01-15T10:31:00Z",
    );
    expect(intervalMs("1h")).toBe(3_600_000);
    expect(intervalMs("1M")).toBeUndefined();
  });
});

describe("makeTrades", () => {
  it("makes n valid trades with distinct ids and increasing timestamps", () => {
    const startMs = Date.parse("2024-05-01T00:00:00Z");
    const trades = makeTrades(50, { source: "coinbase", symbol: "ETH-USD", startMs, stepMs: 250 });
    expect(trades).toHaveLength(50);
    expect(new Set(trades.map((t) => t.payload.trade_id)).size).toBe(50);
    trades.forEach((trade, i) => {
      expect(StandardEvent.parse(trade)).toEqual(trade);
      expect(trade).toMatchObject({ source: "coinbase", payload: { symbol: "ETH-USD" } });
      expect(Date.parse(trade.payload.timestamp)).toBe(startMs + i * 250);
      expect(trade.timestamp).toBe(trade.payload.timestamp);
    });
    expect(new Set(trades.map((t) => t.payload.side))).toEqual(new Set(["buy", "sell"]));
  });

  it("repeats the same prices and volumes on every call", () => {
    const strip = (n: number) =>
      makeTrades(n).map((t) => [t.payload.price, t.payload.volume, t.payload.side]);
    expect(strip(30)).toEqual(strip(30));
    expect(new Set(strip(30).map(([price]) => price)).size).toBeGreaterThan(5);
    expect(makeTrades(0)).toEqual([]);
  });
});
