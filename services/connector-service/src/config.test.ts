import { ConfigError, parseEnv } from "@market-scraper/runtime";
import { describe, expect, it } from "vitest";
import { connectorEnv, shardSymbols } from "./config.js";

describe("connector config", () => {
  it("has the documented defaults", () => {
    const config = parseEnv(connectorEnv, {});
    expect(config).toMatchObject({
      HTTP_PORT: 9101,
      CONNECTORS: ["hyperliquid"],
      CONNECTOR_SHARD: { index: 0, count: 1 },
      HYPERLIQUID_SYMBOLS: ["BTC", "ETH"],
      HYPERLIQUID_CHANNELS: ["trade", "order_book", "ticker", "ohlcv"],
      HYPERLIQUID_OHLCV_INTERVALS: ["1m"],
      HYPERLIQUID_WS_URL: "wss://api.hyperliquid.xyz/ws",
      HYPERLIQUID_REST_URL: "https://api.hyperliquid.xyz",
      HYPERLIQUID_STALE_AFTER: { order_book: 30_000, ticker: 30_000, ohlcv: 300_000 },
      HYPERLIQUID_PING_INTERVAL: 20_000,
      HEARTBEAT_INTERVAL: 30_000,
      REPLAY_SPEED: { mode: "realtime", speed: 1 },
    });
  });

  it("parses the connector's own forms", () => {
    const config = parseEnv(connectorEnv, {
      CONNECTORS: "hyperliquid, replay",
      REPLAY_FILE: "/tmp/capture.jsonl",
      REPLAY_SPEED: "max",
      CONNECTOR_SHARD: "1/3",
      HYPERLIQUID_SYMBOLS: "BTC, PURR/USDC ,@107",
      HYPERLIQUID_STALE_AFTER: "trade=2m, ticker=off",
      HYPERLIQUID_OHLCV_INTERVALS: "1m,1h",
    });
    expect(config.CONNECTORS).toEqual(["hyperliquid", "replay"]);
    expect(config.CONNECTOR_SHARD).toEqual({ index: 1, count: 3 });
    expect(config.HYPERLIQUID_SYMBOLS).toEqual(["BTC", "PURR/USDC", "@107"]);
    expect(config.HYPERLIQUID_STALE_AFTER).toEqual({ order_book: 30_000, ohlcv: 300_000, trade: 120_000 });
    expect(config.REPLAY_SPEED).toEqual({ mode: "max" });
  });

  it("names every bad variable", () => {
    const error = (() => {
      try {
        parseEnv(connectorEnv, {
          CONNECTORS: "nosuchexchange",
          CONNECTOR_SHARD: "3/3",
          HYPERLIQUID_CHANNELS: "trades",
          HYPERLIQUID_OHLCV_INTERVALS: "2m",
          HYPERLIQUID_WS_URL: "https://api.hyperliquid.xyz/ws",
          HYPERLIQUID_STALE_AFTER: "book=5s",
          REPLAY_SPEED: "fast",
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.variable)).toEqual([
      "CONNECTORS",
      "CONNECTOR_SHARD",
      "HYPERLIQUID_CHANNELS",
      "HYPERLIQUID_OHLCV_INTERVALS",
      "HYPERLIQUID_WS_URL",
      "HYPERLIQUID_STALE_AFTER",
      "REPLAY_SPEED",
    ]);
  });

  it("reads the Binance connectors' variables, several connectors at once, and names bad ones", () => {
    const config = parseEnv(connectorEnv, {
      CONNECTORS: "hyperliquid,binance,binance-usdm",
      BINANCE_SYMBOLS: "BTCUSDT,eth-usdt",
      BINANCE_USDM_CHANNELS: "trade,liquidation,derivative_ticker",
      BINANCE_USDM_BOOK_INTERVAL: "0",
    });
    expect(config.CONNECTORS).toEqual(["hyperliquid", "binance", "binance-usdm"]);
    expect(config.BINANCE_SYMBOLS).toEqual(["BTCUSDT", "eth-usdt"]);
    expect(config.BINANCE_CHANNELS).toEqual(["trade", "order_book", "ticker", "ohlcv"]);
    expect(config.BINANCE_USDM_CHANNELS).toEqual(["trade", "liquidation", "derivative_ticker"]);
    expect(config.BINANCE_USDM_BOOK_INTERVAL).toBe(0);
    expect(config.BINANCE_BOOK_DEPTH).toBe(20);
    expect(config.BINANCE_WS_URL).toBe("wss://stream.binance.com:9443");
    expect(config.BINANCE_USDM_REST_URL).toBe("https://fapi.binance.com");
    const error = (() => {
      try {
        parseEnv(connectorEnv, {
          BINANCE_SYMBOLS: "BTC/USDT",
          BINANCE_CHANNELS: "liquidation",
          BINANCE_OHLCV_INTERVALS: "2m",
          BINANCE_USDM_OHLCV_INTERVALS: "1s",
          BINANCE_USDM_WS_URL: "https://fstream.binance.com",
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect((error as ConfigError).issues.map((i) => i.variable)).toEqual([
      "BINANCE_SYMBOLS",
      "BINANCE_CHANNELS",
      "BINANCE_OHLCV_INTERVALS",
      "BINANCE_USDM_OHLCV_INTERVALS",
      "BINANCE_USDM_WS_URL",
    ]);
    expect((error as ConfigError).issues[0]!.message).toContain("not a Binance symbol: BTC/USDT");
  });

  it("requires REPLAY_FILE with the replay connector", () => {
    expect(() => parseEnv(connectorEnv, { CONNECTORS: "replay" })).toThrow(/REPLAY_FILE/);
  });

  it("splits the symbols between replicas, each exactly once", () => {
    const symbols = ["BTC", "ETH", "SOL", "PURR/USDC", "@107"];
    const shards = [0, 1, 2].map((index) => shardSymbols(symbols, { index, count: 3 }));
    expect(shards).toEqual([["BTC", "PURR/USDC"], ["ETH", "@107"], ["SOL"]]);
    expect(shards.flat().sort()).toEqual([...symbols].sort());
  });

  it("configures bybit-spot and bybit-linear with their own variables, and names the bad ones", () => {
    const config = parseEnv(connectorEnv, {
      CONNECTORS: "bybit-spot,bybit-linear",
      BYBIT_SPOT_SYMBOLS: "BTC-USDT, solusdt",
      BYBIT_LINEAR_BOOK_INTERVAL: "0",
    });
    expect(config).toMatchObject({
      CONNECTORS: ["bybit-spot", "bybit-linear"],
      BYBIT_SPOT_SYMBOLS: ["BTC-USDT", "solusdt"],
      BYBIT_SPOT_CHANNELS: ["trade", "order_book", "ticker", "ohlcv"],
      BYBIT_SPOT_WS_URL: "wss://stream.bybit.com/v5/public/spot",
      BYBIT_LINEAR_CHANNELS: ["trade", "order_book", "ticker", "ohlcv", "liquidation", "derivative_ticker"],
      BYBIT_LINEAR_WS_URL: "wss://stream.bybit.com/v5/public/linear",
      BYBIT_LINEAR_REST_URL: "https://api.bybit.com",
      BYBIT_LINEAR_BOOK_DEPTH: 20,
      BYBIT_LINEAR_BOOK_INTERVAL: 0,
      BYBIT_SPOT_BOOK_INTERVAL: 100,
    });
    const error = (() => {
      try {
        parseEnv(connectorEnv, {
          BYBIT_SPOT_CHANNELS: "trade,liquidation",
          BYBIT_LINEAR_OHLCV_INTERVALS: "7m",
          BYBIT_LINEAR_BOOK_DEPTH: "5000",
          BYBIT_LINEAR_SYMBOLS: " , ",
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect((error as ConfigError).issues.map((i) => i.variable)).toEqual([
      "BYBIT_SPOT_CHANNELS",
      "BYBIT_LINEAR_SYMBOLS",
      "BYBIT_LINEAR_OHLCV_INTERVALS",
      "BYBIT_LINEAR_BOOK_DEPTH",
    ]);
  });
});
