import { makeDerivativeTicker, makeLiquidation, makeTrade } from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import { DedupProcessor, MAX_EVENT_ID_WINDOW } from "./dedup-processor.js";

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

  it("drops liquidations and derivative tickers whose event id repeats, per (source, symbol, type)", () => {
    const dedup = new DedupProcessor(null, { window: 2 });
    const liquidation = makeLiquidation({ source: "binance-usdm", symbol: "BTC-USDT" });
    const ticker = makeDerivativeTicker({ source: "binance-usdm", symbol: "BTC-USDT" });
    expect(dedup.process(liquidation)).toBe(liquidation);
    expect(dedup.process(ticker)).toBe(ticker);
    expect(dedup.process({ ...liquidation })).toBeNull();
    expect(dedup.process({ ...ticker })).toBeNull();
    // Same content, another id: another liquidation (the id is what the exchange's data makes unique).
    expect(dedup.process(makeLiquidation({ source: "binance-usdm", symbol: "BTC-USDT" }))).not.toBeNull();
    // Many tickers do not push the liquidations' or the trades' keys out of their windows.
    const trade = makeTrade({ source: "binance-usdm", symbol: "BTC-USDT", payload: { trade_id: "7" } });
    expect(dedup.process(trade)).toBe(trade);
    for (let i = 0; i < 5; i++)
      dedup.process(makeDerivativeTicker({ source: "binance-usdm", symbol: "BTC-USDT" }));
    expect(dedup.process({ ...trade })).toBeNull();
    expect(dedup.duplicates).toBe(3);
    expect(new DedupProcessor(null, { window: 20_000 }).idWindow).toBe(MAX_EVENT_ID_WINDOW);
  });

  it("checkpoints every type's window and still loads a trades-only checkpoint", () => {
    const first = new DedupProcessor();
    const liquidation = makeLiquidation();
    first.process(makeTrade({ payload: { trade_id: "x" } }));
    first.process(liquidation);
    const state = JSON.parse(JSON.stringify(first.exportState("test", "BTC-USD"))) as unknown;
    expect(state).toEqual({ keys: ["id:x"], by_type: { liquidation: [liquidation.event_id] } });
    const second = new DedupProcessor();
    second.importState("test", "BTC-USD", state);
    expect(second.process({ ...liquidation })).toBeNull();
    expect(second.process(makeTrade({ payload: { trade_id: "x" } }))).toBeNull();
    const old = new DedupProcessor();
    old.importState("test", "BTC-USD", { keys: ["id:y"] });
    expect(old.process(makeTrade({ payload: { trade_id: "y" } }))).toBeNull();
    expect(old.exportState("test", "BTC-USD")).toEqual({ keys: ["id:y"] });
  });
});
