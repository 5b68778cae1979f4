import { describe, expect, it } from "vitest";
import { TradeDeduplicator } from "./trade-deduplicator.js";

describe("TradeDeduplicator", () => {
  it("passes a trade once per stream and counts the duplicates", () => {
    const dedup = new TradeDeduplicator(10);
    expect(dedup.firstSeen("BTC", 1, 1000)).toBe(true);
    expect(dedup.firstSeen("BTC", 2, 1000)).toBe(true);
    expect(dedup.firstSeen("BTC", 1, 1000)).toBe(false);
    expect(dedup.firstSeen("ETH", 1, 1000)).toBe(true); // another coin
    expect(dedup.firstSeen("BTC", 1, 2000)).toBe(true); // same tid, another block: another trade
    expect(dedup.firstSeen("BTC", "x")).toBe(true);
    expect(dedup.firstSeen("BTC", "x")).toBe(false);
    expect(dedup.duplicates).toBe(2);
  });

  it("keeps a bounded number of ids per stream, forgetting the oldest first", () => {
    const dedup = new TradeDeduplicator(32);
    const btc = dedup.stream("BTC");
    for (let id = 0; id < 1_000; id += 1) btc.firstSeen(id, 7);
    expect(btc.size).toBeLessThanOrEqual(32 + 2);
    expect(btc.size).toBeGreaterThanOrEqual(32);
    expect(btc.firstSeen(999, 7)).toBe(false);
    expect(btc.firstSeen(968, 7)).toBe(false);
    expect(btc.firstSeen(0, 7)).toBe(true); // forgotten long ago
  });

  it("forgets whole blocks (times) first, oldest first", () => {
    const dedup = new TradeDeduplicator(30);
    const btc = dedup.stream("BTC");
    for (let block = 0; block < 100; block += 1) {
      for (let i = 0; i < 3; i += 1) expect(btc.firstSeen(block * 10 + i, 1_000 + block)).toBe(true);
    }
    expect(btc.size).toBeLessThanOrEqual(32);
    expect(btc.firstSeen(990, 1_099)).toBe(false); // the newest block
    expect(btc.firstSeen(900, 1_090)).toBe(false);
    expect(btc.firstSeen(0, 1_000)).toBe(true); // forgotten
    expect(dedup.duplicates).toBe(2);
  });

  it("agrees with a plain model (the last `capacity` distinct trades) over many random trades", () => {
    for (const capacity of [1, 7, 64, 1_000]) {
      const stream = new TradeDeduplicator(capacity).stream("BTC");
      const model: string[] = [];
      const inModel = new Set<string>();
      let seed = capacity;
      const rand = (n: number): number => {
        seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
        return seed % n;
      };
      for (let step = 0; step < 20_000; step += 1) {
        const id = 2 ** 49 + rand(capacity * 3); // large ids, as Hyperliquid's
        const time = 1_790_232_216_000 + rand(4);
        const key = `${id}|${time}`;
        const expected = !inModel.has(key);
        expect(stream.firstSeen(id, time)).toBe(expected);
        if (expected) {
          model.push(key);
          inModel.add(key);
          if (model.length > capacity) inModel.delete(model.shift()!);
        }
      }
      expect(stream.size).toBe(model.length);
    }
  });

  it("rejects a capacity below 1", () => {
    expect(() => new TradeDeduplicator(0)).toThrow(RangeError);
  });
});
