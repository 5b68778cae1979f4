import { makeTrade } from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import { DedupProcessor } from "./dedup-processor.js";

describe("DedupProcessor", () => {
  it("drops repeats by (source, symbol, trade_id), and by content when there is no trade id", () => {
    const dedup = new DedupProcessor();
    const a = makeTrade({ payload: { trade_id: "1" } });
    expect(dedup.process(a)).toBe(a);
    expect(dedup.process({ ...a, event_id: "0190f000-0000-7000-8000-00000000000a" })).toBeNull();
    expect(dedup.process(makeTrade({ symbol: "ETH-USD", payload: { trade_id: "1" } }))).not.toBeNull();
    expect(dedup.process(makeTrade({ source: "other", payload: { trade_id: "1" } }))).not.toBeNull();
    const noId = makeTrade({ payload: { trade_id: undefined } });
    expect(dedup.process(noId)).toBe(noId);
    expect(dedup.process(makeTrade({ payload: { trade_id: undefined } }))).toBeNull();
    expect(dedup.process(makeTrade({ payload: { trade_id: undefined, volume: 0.2 } }))).not.toBeNull();
    expect(dedup.duplicates).toBe(2);
  });

  it("remembers a bounded window per symbol, oldest forgotten first", () => {
    const dedup = new DedupProcessor(null, { window: 3 });
    const trades = ["1", "2", "3", "4"].map((id) => makeTrade({ payload: { trade_id: id } }));
    for (const t of trades) expect(dedup.process(t)).not.toBeNull();
    expect(dedup.exportState("test", "BTC-USD")).toEqual({ keys: ["id:2", "id:3", "id:4"] });
    expect(dedup.process(makeTrade({ payload: { trade_id: "1" } }))).not.toBeNull(); // forgotten
    expect(dedup.process(makeTrade({ payload: { trade_id: "4" } }))).toBeNull();
  });

  it("restores its window from a checkpoint", () => {
    const first = new DedupProcessor();
    first.process(makeTrade({ payload: { trade_id: "x" } }));
    const second = new DedupProcessor();
    second.importState("test", "BTC-USD", JSON.parse(JSON.stringify(first.exportState("test", "BTC-USD"))));
    expect(second.process(makeTrade({ payload: { trade_id: "x" } }))).toBeNull();
  });
});
