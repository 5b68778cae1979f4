import { describe, expect, it } from "vitest";
import { ownsKey, parsePartition, partitionKeyHash, partitionOf } from "./partition.js";

describe("partitions", () => {
  it("parses i/n", () => {
    expect(parsePartition("1/3")).toEqual({ index: 1, count: 3 });
    for (const bad of ["3/3", "1", "-1/2", "0/0", "a/b"]) expect(() => parsePartition(bad)).toThrow();
  });

  it("hashes (source, symbol) stably, and every key has exactly one owner", () => {
    expect(partitionKeyHash("hyperliquid", "BTC-USD")).toBe(partitionKeyHash("hyperliquid", "BTC-USD"));
    expect(partitionKeyHash("a", "bc")).not.toBe(partitionKeyHash("ab", "c"));
    const counts = [0, 0, 0];
    for (let i = 0; i < 300; i++) {
      const symbol = `S${i}-USD`;
      const owners = [0, 1, 2].filter((index) => ownsKey({ index, count: 3 }, "x", symbol));
      expect(owners).toEqual([partitionOf("x", symbol, 3)]);
      counts[owners[0]!]!++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(50);
  });
});
