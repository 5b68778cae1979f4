import { makeTrade } from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import { type CorruptCheckpoint, MemoryCheckpointStore, parsePosition } from "./checkpoint-store.js";
import { Pipeline } from "./pipeline.js";
import { DedupProcessor } from "./processors/dedup-processor.js";
import { OhlcvProcessor } from "./processors/ohlcv-processor.js";

const pipeline = () =>
  new Pipeline(null, [
    new DedupProcessor(),
    new OhlcvProcessor(null, { intervals: ["1m", "1h"], latenessMs: 2000 }),
  ]);

/** A pipeline fed out-of-order trades of two symbols, as checkpoints see it. */
async function fedPipeline(): Promise<Pipeline> {
  const p = pipeline();
  const start = Date.parse("2024-01-15T10:00:00Z");
  for (let i = 0; i < 200; i++) {
    for (const symbol of ["BTC-USD", "ETH-USD"]) {
      const late = i % 7 === 3 ? 1500 : 0;
      await p.apply(
        makeTrade({
          source: "hyperliquid",
          symbol,
          timestamp: new Date(start + i * 700 - late),
          payload: {
            trade_id: `${symbol}-${i}`,
            price: 100 + ((i * 13) % 17) * 0.25,
            volume: 0.001 * (i % 5) + 0.1,
          },
        }),
      );
    }
  }
  return p;
}

describe("checkpoint validation", () => {
  it("accepts every state the processors export, and restores it", async () => {
    const p = await fedPipeline();
    const corrupt: CorruptCheckpoint[] = [];
    const store = new MemoryCheckpointStore({
      stateSchema: p.stateSchema,
      onCorrupt: (c) => void corrupt.push(c),
    });
    const keys = ["BTC-USD", "ETH-USD"].map((symbol) => ({
      source: "hyperliquid",
      symbol,
      seq: 400,
      state: p.exportState("hyperliquid", symbol),
    }));
    await store.saveKeys(keys);
    for (const k of keys) expect(await store.loadKey(k.source, k.symbol)).toEqual(k);
    expect(corrupt).toEqual([]);
    const restored = pipeline();
    restored.importState("hyperliquid", "BTC-USD", keys[0]!.state);
    expect(restored.exportState("hyperliquid", "BTC-USD")).toEqual(keys[0]!.state);
  });

  it("reports a corrupt key checkpoint and reads it as none", async () => {
    const p = await fedPipeline();
    const state = p.exportState("hyperliquid", "BTC-USD") as {
      ohlcv: { maxTime: number; buckets: Record<string, unknown[][]> };
    };
    const corrupt: CorruptCheckpoint[] = [];
    const store = new MemoryCheckpointStore({
      stateSchema: p.stateSchema,
      onCorrupt: (c) => void corrupt.push(c),
    });
    const save = (s: unknown) =>
      store.saveKeys([{ source: "hyperliquid", symbol: "BTC-USD", seq: 9, state: s }]);
    const load = () => store.loadKey("hyperliquid", "BTC-USD");
    const variants: [string, unknown][] = [
      ["a NaN price (null in JSON)", structuredClone(state)],
      ["a bucket of the wrong interval", structuredClone(state)],
      ["high below low", structuredClone(state)],
      ["dedup keys that are not strings", { ...structuredClone(state), dedup: { keys: [1, 2] } }],
    ];
    (variants[0]![1] as typeof state).ohlcv.buckets["1m"]![0]![4] = null;
    (variants[1]![1] as typeof state).ohlcv.buckets["1h"]![0]![0] = Date.parse("2024-01-15T10:01:00Z");
    const row = (variants[2]![1] as typeof state).ohlcv.buckets["1m"]![0]!;
    [row[4], row[5]] = [row[5], row[4]];
    for (const [what, s] of variants) {
      await save(s);
      expect(await load(), what).toBeNull();
    }
    store.keys.set([...store.keys.keys()][0]!, "{not json");
    expect(await load()).toBeNull();
    expect(corrupt).toHaveLength(5);
    for (const c of corrupt) {
      expect(c).toMatchObject({ kind: "key", source: "hyperliquid", symbol: "BTC-USD" });
      expect(c.error).toMatchObject({ name: "ProcessorError", code: "CORRUPT_CHECKPOINT" });
    }
    expect(corrupt[0]!.error.message).toContain("buckets.1m[0][4]");
  });

  it("reads a partition position only when it is a stream sequence", () => {
    expect(parsePosition("42", "p0of1")).toBe(42);
    for (const bad of ["", "-1", "4.5", "NaN", "12abc", "99999999999999999999"])
      expect(() => parsePosition(bad, "p0of1")).toThrow(/position of partition p0of1/);
  });
});
