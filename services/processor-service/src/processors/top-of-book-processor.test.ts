import { makeOrderBook, makeTicker } from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import { TopOfBookProcessor, topOfBook } from "./top-of-book-processor.js";

describe("TopOfBookProcessor", () => {
  it("adds spread, mid and imbalance to an order book", () => {
    const out = new TopOfBookProcessor().process(
      makeOrderBook({ payload: { bid: 0.1, ask: 0.3, bid_volume: 3, ask_volume: 1 } }),
    );
    expect(out.event_type === "order_book" && out.payload).toMatchObject({
      spread: 0.2, // exact: 0.3 - 0.1 is 0.19999999999999998 in floating point
      mid: 0.2,
      imbalance: 0.5,
    });
  });

  it("adds them to a ticker, and leaves imbalance out without sizes", () => {
    const ticker = makeTicker({
      payload: { bid: 99.5, ask: 100.5, bid_volume: undefined, ask_volume: undefined },
    });
    const out = new TopOfBookProcessor().process(ticker);
    expect(out.event_type === "ticker" && out.payload).toMatchObject({ spread: 1, mid: 100 });
    expect(out.payload).not.toHaveProperty("imbalance");
  });

  it("computes in exact decimal", () => {
    expect(topOfBook(1.1, 1.3)).toEqual({ spread: 0.2, mid: 1.2 });
    expect(topOfBook(50000.1, 50000.3, 0, 0)).toEqual({ spread: 0.2, mid: 50000.2 });
  });
});
