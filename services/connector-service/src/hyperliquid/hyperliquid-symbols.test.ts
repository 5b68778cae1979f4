import { describe, expect, it } from "vitest";
import { HyperliquidSymbols, marketsFromMeta } from "./hyperliquid-symbols.js";

const meta = {
  universe: [
    { name: "BTC", szDecimals: 5, maxLeverage: 50 },
    { name: "kPEPE", szDecimals: 0, maxLeverage: 10 },
    { name: "MATIC", isDelisted: true },
  ],
};
const spotMeta = {
  tokens: [
    { name: "USDC", index: 0 },
    { name: "PURR", index: 1 },
    { name: "HYPE", index: 150 },
  ],
  universe: [
    { name: "PURR/USDC", tokens: [1, 0], index: 0, isCanonical: true },
    { name: "@107", tokens: [150, 0], index: 107, isCanonical: false },
    { name: "@999", tokens: [999, 0], index: 999, isCanonical: false },
  ],
};

describe("Hyperliquid symbols", () => {
  it("normalizes perps to BASE-USD and spot pairs to their tokens, keeping the exchange's name", () => {
    expect(marketsFromMeta(meta, spotMeta)).toEqual([
      { coin: "BTC", symbol: "BTC-USD", kind: "perp" },
      { coin: "kPEPE", symbol: "kPEPE-USD", kind: "perp" },
      { coin: "PURR/USDC", symbol: "PURR-USDC", kind: "spot" },
      { coin: "@107", symbol: "HYPE-USDC", kind: "spot" },
    ]);
  });

  it("resolves configured names given either way and reports the unknown ones", () => {
    const symbols = new HyperliquidSymbols(marketsFromMeta(meta, spotMeta));
    const { markets, unknown } = symbols.resolveAll([
      "BTC",
      "HYPE-USDC",
      "PURR/USDC",
      "BTC-USD",
      "btc",
      "MATIC",
      "NOPE",
    ]);
    expect(markets.map((m) => m.coin)).toEqual(["BTC", "@107", "PURR/USDC"]);
    expect(unknown).toEqual(["btc", "MATIC", "NOPE"]);
  });

  it("rejects answers without the documented shape", () => {
    expect(() => marketsFromMeta(null, spotMeta)).toThrow(/meta/);
    expect(() => marketsFromMeta(meta, { tokens: 1 })).toThrow(/spotMeta/);
  });
});
