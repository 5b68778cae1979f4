import type { StandardEvent } from "@market-scraper/events";
import {
  makeDerivativeTicker,
  makeLiquidation,
  makeOhlcv,
  makeOrderBook,
  makeTicker,
  makeTrade,
} from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import { VALIDATION_FAILED, ValidateProcessor } from "./validate-processor.js";

const now = Date.parse("2024-01-15T10:31:00.000Z");
const validate = new ValidateProcessor(null, { clock: { now: () => now }, maxFutureMs: 60_000 });

function ruleOf(event: StandardEvent): { rule: unknown; field: unknown } | null {
  const out = validate.process(event);
  if (out === event) return null;
  expect(out.event_type).toBe("error");
  if (out.event_type !== "error") return null;
  expect(out.payload.error_code).toBe(VALIDATION_FAILED);
  expect(out.parent_event_id).toBe(event.event_id);
  return { rule: out.payload.details["rule"], field: out.payload.details["field"] };
}

function withPayload<E extends StandardEvent>(event: E, payload: Record<string, unknown>): E {
  return { ...event, payload: { ...event.payload, ...payload } };
}

describe("ValidateProcessor", () => {
  it("passes valid events of every market type unchanged", () => {
    for (const e of [makeTrade(), makeTicker(), makeOrderBook(), makeOhlcv()]) expect(ruleOf(e)).toBeNull();
    for (const e of [makeLiquidation(), makeDerivativeTicker()]) expect(ruleOf(e)).toBeNull();
    // A next funding time is in the future by nature: no future rule for it.
    const later = makeDerivativeTicker({ payload: { next_funding_time: "2024-01-16T00:00:00Z" } });
    expect(ruleOf(later)).toBeNull();
  });

  it.each([
    [
      "liquidation zero price",
      withPayload(makeLiquidation(), { price: 0 }),
      "price_positive",
      "payload.price",
    ],
    [
      "liquidation negative volume",
      withPayload(makeLiquidation(), { volume: -1 }),
      "volume_non_negative",
      "payload.volume",
    ],
    ["liquidation side", withPayload(makeLiquidation(), { side: "long" }), "schema", "payload.side"],
    [
      "negative mark price",
      withPayload(makeDerivativeTicker(), { mark_price: -1 }),
      "price_positive",
      "payload.mark_price",
    ],
    [
      "negative open interest",
      withPayload(makeDerivativeTicker(), { open_interest: -2 }),
      "volume_non_negative",
      "payload.open_interest",
    ],
    [
      "derivative ticker without values",
      { ...makeDerivativeTicker(), payload: { symbol: "BTC-USD", timestamp: "2024-01-15T10:30:00Z" } },
      "schema",
      "payload",
    ],
  ])("derivatives: %s → %s", (_name, event, rule, field) => {
    expect(ruleOf(event as StandardEvent)).toEqual({ rule, field });
  });

  it.each([
    ["zero price", withPayload(makeTrade(), { price: 0 }), "price_positive", "payload.price"],
    ["negative price", withPayload(makeTrade(), { price: -5 }), "price_positive", "payload.price"],
    ["infinite price", withPayload(makeTrade(), { price: Infinity }), "price_positive", "payload.price"],
    ["NaN price", withPayload(makeTrade(), { price: NaN }), "price_positive", "payload.price"],
    ["negative volume", withPayload(makeTrade(), { volume: -0.1 }), "volume_non_negative", "payload.volume"],
    ["crossed book", withPayload(makeOrderBook(), { bid: 101, ask: 100 }), "bid_le_ask", "payload.bid"],
    ["crossed ticker", withPayload(makeTicker(), { bid: 101, ask: 100 }), "bid_le_ask", "payload.bid"],
    [
      "high below close",
      withPayload(makeOhlcv(), { open: 10, high: 11, low: 9, close: 12 }),
      "ohlc_range",
      "payload.high",
    ],
    [
      "low above open",
      withPayload(makeOhlcv(), { open: 10, high: 13, low: 10.5, close: 12 }),
      "ohlc_range",
      "payload.low",
    ],
    [
      "negative ask size",
      withPayload(makeOrderBook(), { ask_volume: -1 }),
      "volume_non_negative",
      "payload.ask_volume",
    ],
    ["missing symbol", withPayload(makeTrade(), { symbol: undefined }), "schema", "payload.symbol"],
    [
      "time far in the future",
      makeTrade({ timestamp: "2024-01-15T10:32:00.001Z" }),
      "timestamp_not_future",
      "timestamp",
    ],
  ])("rejects %s, naming the rule", (_name, event, rule, field) => {
    expect(ruleOf(event)).toEqual({ rule, field });
  });

  it("accepts a time just inside the future allowance and zero volume", () => {
    expect(ruleOf(makeTrade({ timestamp: "2024-01-15T10:32:00.000Z" }))).toBeNull();
    expect(ruleOf(withPayload(makeTrade(), { volume: 0 }))).toBeNull();
    expect(ruleOf(withPayload(makeOrderBook(), { bid: 100, ask: 100 }))).toBeNull();
  });
});
