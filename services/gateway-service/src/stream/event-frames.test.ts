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
import { EventFrames } from "./event-frames.js";

describe("EventFrames.conflationKey", () => {
  it("conflates latest-value data per (type, source, symbol), never trades, liquidations or candles", () => {
    const key = (event: StandardEvent) => new EventFrames(event).conflationKey;
    const perp = { source: "binance-usdm", symbol: "BTC-USDT" };
    expect(key(makeTicker(perp))).toBe("ticker\u0000binance-usdm\u0000BTC-USDT");
    expect(key(makeOrderBook(perp))).toBe("order_book\u0000binance-usdm\u0000BTC-USDT");
    expect(key(makeDerivativeTicker(perp))).toBe("derivative_ticker\u0000binance-usdm\u0000BTC-USDT");
    // The spot market of the same symbol is another instrument: another key.
    expect(key(makeOrderBook({ source: "binance", symbol: "BTC-USDT" }))).toBe(
      "order_book\u0000binance\u0000BTC-USDT",
    );
    for (const event of [makeTrade(perp), makeLiquidation(perp), makeOhlcv(perp)])
      expect(new EventFrames(event).conflationKey, event.event_type).toBeUndefined();
  });
});
