import { describe, expect, it } from "vitest";
import {
  EVENT_TYPES,
  EventType,
  EventValidationError,
  MARKET_DATA_TYPES,
  StandardEvent,
  decodeEvent,
  encodeEvent,
  generateJsonSchemas,
  markProcessed,
  parseSubject,
  subjectFor,
} from "./index.js";

// A Binance USDⓈ-M forceOrder (exchanges-derivatives.md §1.5) as the connector normalizes it.
const liquidationJson = `{
  "event_id": "0190a1b2-0000-7000-8000-000000000001",
  "event_type": "liquidation",
  "timestamp": "2022-04-25T14:45:29.196Z",
  "source": "binance-usdm",
  "payload": {
    "symbol": "BTC-USDT",
    "raw_symbol": "BTCUSDT",
    "side": "sell",
    "price": 39021.0,
    "volume": 0.288,
    "timestamp": "2022-04-25T14:45:29.196Z",
    "raw_side": "SELL",
    "instrument": "perp",
    "order_type": "LIMIT"
  },
  "correlation_id": "0190a1b2-0000-7000-8000-000000000001",
  "priority": 5
}`;

// A Bybit linear tickers.BTCUSDT state (exchanges-derivatives.md §2.1) as the connector normalizes it.
const derivativeTickerJson = `{
  "event_id": "0190a1b2-0000-7000-8000-000000000002",
  "event_type": "derivative_ticker",
  "timestamp": "2023-04-05T05:50:22.199Z",
  "source": "bybit-linear",
  "payload": {
    "symbol": "BTC-USDT",
    "raw_symbol": "BTCUSDT",
    "timestamp": "2023-04-05T05:50:22.199Z",
    "funding_rate": 0.0001,
    "next_funding_time": "2023-04-05T08:00:00.000Z",
    "mark_price": 28184.5,
    "index_price": 28195.35,
    "open_interest": 49011.716,
    "open_interest_value": 1381351830.1
  },
  "priority": 5
}`;

describe("liquidation and derivative_ticker events (ARCHITECTURE §3)", () => {
  it("are market data types, in the contract's order", () => {
    expect(EVENT_TYPES).toEqual([
      "trade",
      "ticker",
      "order_book",
      "ohlcv",
      "liquidation",
      "derivative_ticker",
      "connector_status",
      "heartbeat",
      "error",
      "custom",
    ]);
    expect(MARKET_DATA_TYPES).toContain(EventType.LIQUIDATION);
    expect(MARKET_DATA_TYPES).toContain(EventType.DERIVATIVE_TICKER);
  });

  it.each([
    ["liquidation", liquidationJson, "binance-usdm"],
    ["derivative_ticker", derivativeTickerJson, "bybit-linear"],
  ])("%s parses, round-trips unchanged and travels on market.* / processed.*", (type, json, source) => {
    const event = decodeEvent(json);
    expect(JSON.parse(encodeEvent(event).toString("utf8"))).toEqual(JSON.parse(json));
    expect(subjectFor(event)).toBe(`market.${type}.${source}.BTC-USDT`);
    expect(subjectFor(markProcessed(event))).toBe(`processed.${type}.${source}.BTC-USDT`);
    expect(parseSubject(`processed.${type}.${source}.BTC-USDT`)).toEqual({
      stage: "processed",
      event_type: type,
      source,
      symbol: "BTC-USDT",
    });
  });

  it("a liquidation requires symbol, side, price, volume and timestamp; side is buy or sell", () => {
    const valid = JSON.parse(liquidationJson) as { payload: Record<string, unknown> };
    for (const field of ["symbol", "side", "price", "volume", "timestamp"]) {
      const { [field]: _dropped, ...payload } = valid.payload;
      const error = catchError(() => StandardEvent.parse({ ...valid, payload }));
      expect(error.field, field).toBe(`payload.${field}`);
    }
    const error = catchError(() =>
      StandardEvent.parse({ ...valid, payload: { ...valid.payload, side: "SELL" } }),
    );
    expect(error.field).toBe("payload.side");
  });

  it("a derivative_ticker requires a timestamp and at least one value", () => {
    const create = (payload: Record<string, unknown>) =>
      StandardEvent.create({
        event_type: EventType.DERIVATIVE_TICKER,
        source: "binance-usdm",
        payload: { symbol: "BTC-USDT", timestamp: "2024-01-15T10:30:00Z", ...payload },
      });
    for (const field of [
      "funding_rate",
      "predicted_funding_rate",
      "mark_price",
      "index_price",
      "open_interest",
    ]) {
      expect(create({ [field]: 1.5 }).payload).toMatchObject({ [field]: 1.5 });
    }
    expect(create({ next_funding_time: "2024-01-15T16:00:00+08:00" }).payload.next_funding_time).toBe(
      "2024-01-15T08:00:00Z",
    );
    const none = catchError(() => create({ open_interest_value: 5, raw_symbol: "BTCUSDT" }));
    expect(none.code).toBe("INVALID_EVENT");
    expect(none.message).toMatch(/at least one of funding_rate, next_funding_time/);
    const noTime = catchError(() =>
      StandardEvent.parse({
        ...(JSON.parse(derivativeTickerJson) as object),
        payload: { symbol: "BTC-USDT", mark_price: 1 },
      }),
    );
    expect(noTime.field).toBe("payload.timestamp");
  });

  it("JSON Schema says what the zod schemas say, the at-least-one rule included", () => {
    const schemas = generateJsonSchemas() as Record<
      string,
      { properties: { payload: Record<string, unknown> } }
    >;
    const liquidation = schemas["liquidation.json"]!.properties.payload;
    expect(liquidation.required).toEqual(["symbol", "side", "price", "volume", "timestamp"]);
    const ticker = schemas["derivative_ticker.json"]!.properties.payload;
    expect(ticker.required).toEqual(["symbol", "timestamp"]);
    expect(ticker.anyOf).toEqual(
      [
        "funding_rate",
        "next_funding_time",
        "predicted_funding_rate",
        "mark_price",
        "index_price",
        "open_interest",
      ].map((field) => ({ required: [field] })),
    );
    const asyncapi = schemas["asyncapi.json"] as unknown as { channels: Record<string, { address: string }> };
    expect(asyncapi.channels["market-liquidation"]!.address).toBe("market.liquidation.{source}.{symbol}");
    expect(asyncapi.channels["processed-derivative_ticker"]!.address).toBe(
      "processed.derivative_ticker.{source}.{symbol}",
    );
  });
});

describe("order_book sequence and depth", () => {
  it("carries the exchange sequence (a non-negative integer) and its depth", () => {
    const book = StandardEvent.create({
      event_type: EventType.ORDER_BOOK,
      source: "binance",
      payload: {
        symbol: "BTC-USDT",
        bid: 100,
        ask: 101,
        bid_volume: 1,
        ask_volume: 2,
        bids: [
          [100, 1],
          [99, 3],
        ],
        asks: [[101, 2]],
        depth: 20,
        sequence: 160_000_000_123,
      },
    });
    expect(book.payload.sequence).toBe(160_000_000_123);
    const bad = catchError(() =>
      StandardEvent.parse({ ...book, payload: { ...book.payload, sequence: 1.5 } }),
    );
    expect(bad.field).toBe("payload.sequence");
    expect(
      catchError(() => StandardEvent.parse({ ...book, payload: { ...book.payload, sequence: -1 } })).field,
    ).toBe("payload.sequence");
  });
});

function catchError(fn: () => unknown): EventValidationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof EventValidationError) return error;
    throw error;
  }
  throw new Error("expected an EventValidationError");
}
