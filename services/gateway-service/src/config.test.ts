import { ConfigError, parseEnv } from "@market-scraper/runtime";
import { describe, expect, it } from "vitest";
import { gatewayEnv, parseApiKeys } from "./config.js";

describe("parseApiKeys", () => {
  it("reads keys with optional per-key rate limits", () => {
    expect(parseApiKeys("")).toEqual([]);
    expect(parseApiKeys(" alpha-key-1 , beta-key-22:6000 ")).toEqual([
      { key: "alpha-key-1", rateLimit: null },
      { key: "beta-key-22", rateLimit: 6000 },
    ]);
  });

  it("rejects bad keys by position, never echoing them", () => {
    expect(parseApiKeys("short")).toBe("key #1: expected 8-256 characters of A-Z a-z 0-9 . _ ~ + / = -");
    expect(parseApiKeys("good-key-1,good-key-1")).toBe("key #2 is listed twice");
    expect(parseApiKeys("good-key-1:0")).toBe("key #1: the rate limit after ':' must be a positive integer");
    expect(parseApiKeys("good-key-1:lots")).toContain("key #1");
  });
});

describe("gatewayEnv", () => {
  it("has the documented defaults", () => {
    const config = parseEnv(gatewayEnv, {});
    expect(config).toMatchObject({
      HTTP_PORT: 8080,
      GATEWAY_API_KEYS: [],
      GATEWAY_RATE_LIMIT: 600,
      GATEWAY_RATE_LIMIT_WINDOW: 60_000,
      GATEWAY_CORS_ORIGINS: [],
      GATEWAY_BODY_LIMIT: 16_384,
      GATEWAY_STORAGE_TIMEOUT: 5_000,
      GATEWAY_STREAM_BUFFER: 1_000,
      GATEWAY_STREAM_HIGH_WATER: 262_144,
      GATEWAY_TRUST_PROXY: false,
    });
  });

  it("names each bad variable and redacts keys", () => {
    let error: unknown;
    try {
      parseEnv(gatewayEnv, {
        GATEWAY_API_KEYS: "a-secret-key,a-secret-key",
        GATEWAY_CORS_ORIGINS: "https://ok.example,https://bad.example/path",
        GATEWAY_RATE_LIMIT: "-1",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((i) => i.variable)).toEqual([
      "GATEWAY_API_KEYS",
      "GATEWAY_RATE_LIMIT",
      "GATEWAY_CORS_ORIGINS",
    ]);
    expect(JSON.stringify(issues)).not.toContain("a-secret-key");
    expect(issues[2]!.message).toContain("'https://bad.example/path' is not an origin");
    expect(parseEnv(gatewayEnv, { GATEWAY_CORS_ORIGINS: "*" }).GATEWAY_CORS_ORIGINS).toEqual(["*"]);
  });
});
