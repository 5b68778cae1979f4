import { connectorEnv } from "@market-scraper/connector-service";
import { gatewayEnv } from "@market-scraper/gateway-service";
import { processorEnv } from "@market-scraper/processor-service";
import { ConfigError } from "@market-scraper/runtime";
import { storageEnv } from "@market-scraper/storage-service";
import { describe, expect, it } from "vitest";
import { parseStandaloneEnv, standaloneVariables } from "./config.js";

describe("standalone configuration", () => {
  it("defaults to the memory bus, SQLite in ./data, port 8080 and Hyperliquid BTC,ETH", () => {
    const config = parseStandaloneEnv({});
    expect(config.EVENT_BUS).toBe("memory");
    expect(config.storage.DATABASE_URL).toEqual({ kind: "sqlite", path: "./data/market-scraper.db" });
    expect(config.gateway.HTTP_PORT).toBe(8080);
    expect(config.connector.CONNECTORS).toEqual(["hyperliquid"]);
    expect(config.connector.HYPERLIQUID_SYMBOLS).toEqual(["BTC", "ETH"]);
    expect(config.processor.PROCESSORS).toEqual(["validate", "dedup", "ohlcv"]);
  });

  it("replays instead of connecting when REPLAY_FILE is set without CONNECTORS", () => {
    expect(parseStandaloneEnv({ REPLAY_FILE: "capture.jsonl" }).connector).toMatchObject({
      CONNECTORS: ["replay"],
      REPLAY_FILE: "capture.jsonl",
    });
    expect(
      parseStandaloneEnv({ REPLAY_FILE: "capture.jsonl", CONNECTORS: "hyperliquid,replay" }).connector
        .CONNECTORS,
    ).toEqual(["hyperliquid", "replay"]);
  });

  it("gives every service the same values for the variables they share", () => {
    const config = parseStandaloneEnv({
      EVENT_BUS: "NATS",
      NATS_URL: "nats://a:4222,b:4222",
      LOG_LEVEL: "debug",
    });
    expect(config.EVENT_BUS).toBe("nats");
    for (const service of [config.connector, config.processor, config.storage, config.gateway]) {
      expect(service.NATS_URL).toEqual(["nats://a:4222", "b:4222"]);
      expect(service.LOG_LEVEL).toBe("debug");
    }
  });

  it("reports every bad variable once, with the services' own rules", () => {
    let error: unknown;
    try {
      parseStandaloneEnv({
        EVENT_BUS: "kafka",
        NATS_URL: "http://nope",
        OHLCV_INTERVALS: "7x",
        STORAGE_BATCH_SIZE: "0",
        GATEWAY_RATE_LIMIT: "lots",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((i) => i.variable).sort()).toEqual(
      ["EVENT_BUS", "NATS_URL", "OHLCV_INTERVALS", "STORAGE_BATCH_SIZE", "GATEWAY_RATE_LIMIT"].sort(),
    );
    expect(issues.find((i) => i.variable === "EVENT_BUS")?.message).toBe("expected memory or nats");
  });

  it("keeps the connector's cross-field rule: CONNECTORS=replay needs REPLAY_FILE", () => {
    expect(() => parseStandaloneEnv({ CONNECTORS: "replay" })).toThrow(
      /REPLAY_FILE: required when CONNECTORS includes replay/,
    );
  });

  it("lists every variable of the four services plus EVENT_BUS", () => {
    const names = standaloneVariables();
    expect(names[0]).toBe("EVENT_BUS");
    for (const schema of [connectorEnv, processorEnv, storageEnv, gatewayEnv]) {
      for (const key of Object.keys(schema.shape)) expect(names).toContain(key);
    }
    expect(new Set(names).size).toBe(names.length);
  });
});
