import { describe, expect, it } from "vitest";
import { BookSide } from "./book-side.js";
import { LocalBook } from "./local-book.js";

describe("BookSide", () => {
  it("keeps bids highest first and asks lowest first, comparing prices as numbers", () => {
    const bids = new BookSide("bids");
    const asks = new BookSide("asks");
    for (const p of ["9.5", "10", "100.25", "99.9"]) {
      bids.set(p, "1");
      asks.set(p, "2");
    }
    expect(bids.top(10).map(([p]) => p)).toEqual(["100.25", "99.9", "10", "9.5"]);
    expect(asks.top(2)).toEqual([
      ["9.5", "2"],
      ["10", "2"],
    ]);
    expect(bids.topNumbers(1)).toEqual([[100.25, 1]]);
  });

  it("treats different texts of one price as one level and keeps the latest text", () => {
    const bids = new BookSide("bids");
    bids.set("100.10", "1.0");
    bids.set("100.1", "2.50");
    expect(bids.top(5)).toEqual([["100.1", "2.50"]]);
  });

  it("deletes a level on a zero size in any spelling, and ignores deleting an absent level", () => {
    const asks = new BookSide("asks");
    asks.set("1.5", "3");
    asks.set("1.6", "4");
    asks.set("1.5", "0.00000000");
    asks.set("7", "0");
    expect(asks.top(5)).toEqual([["1.6", "4"]]);
    expect(asks.size).toBe(1);
  });

  it("rejects malformed levels without changing the side", () => {
    const bids = new BookSide("bids");
    bids.set("1", "1");
    for (const [p, s] of [
      ["abc", "1"],
      ["1", ""],
      ["-1", "1"],
      ["0", "1"],
      ["2", "-1"],
      ["2", "NaN"],
      ["Infinity", "1"],
    ] as const)
      expect(bids.set(p, s)).toBe(false);
    expect(bids.top(5)).toEqual([["1", "1"]]);
  });

  it("loads a snapshot in any order (last duplicate wins, zero sizes dropped)", () => {
    const bids = new BookSide("bids");
    expect(
      bids.load([
        ["1", "1"],
        ["3", "1"],
        ["2", "1"],
        ["3", "5"],
        ["4", "0"],
      ]),
    ).toBe(true);
    expect(bids.top(10)).toEqual([
      ["3", "5"],
      ["2", "1"],
      ["1", "1"],
    ]);
  });
});

describe("LocalBook", () => {
  it("reports a crossed book and malformed updates", () => {
    const book = new LocalBook();
    expect(book.load(5, [["10", "1"]], [["11", "1"]])).toBeUndefined();
    expect(book.apply(6, [["11", "2"]], [])?.kind).toBe("crossed");
    expect(book.load(7, [["10", "1"]], [["11", "x"]])?.kind).toBe("invalid");
    expect(book.bidCount + book.askCount).toBe(0);
  });
});
