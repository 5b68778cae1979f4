import { describe, expect, it } from "vitest";
import { SOURCES, SOURCE_NAMES, instrumentKindOf, sourceInfo } from "./index.js";

describe("source registry", () => {
  it("names every connector of ARCHITECTURE §6 with its kind and exchange", () => {
    expect(SOURCE_NAMES).toEqual([
      "hyperliquid",
      "binance",
      "binance-usdm",
      "bybit-spot",
      "bybit-linear",
      "okx",
      "okx-swap",
      "coinbase",
      "kraken",
    ]);
    expect(sourceInfo("binance-usdm")).toEqual({
      name: "binance-usdm",
      kind: "perpetual",
      exchange: "Binance",
      display_name: "Binance USDⓈ-M perpetuals",
    });
    for (const [name, info] of Object.entries(SOURCES)) expect(info.name).toBe(name);
  });

  it("tells spot from perpetual per (source, symbol)", () => {
    expect(instrumentKindOf("binance", "BTC-USDT")).toBe("spot");
    expect(instrumentKindOf("binance-usdm", "BTC-USDT")).toBe("perpetual");
    expect(instrumentKindOf("bybit-spot", "BTC-USDT")).toBe("spot");
    expect(instrumentKindOf("bybit-linear", "BTC-USDT")).toBe("perpetual");
    expect(instrumentKindOf("hyperliquid", "BTC-USD")).toBe("perpetual");
    expect(instrumentKindOf("hyperliquid", "xyz:SP500-USD")).toBe("perpetual");
    expect(instrumentKindOf("hyperliquid", "PURR-USDC")).toBe("spot");
    expect(instrumentKindOf("test", "BTC-USD")).toBeUndefined();
    expect(sourceInfo("toString")).toBeUndefined();
  });
});
