import { FakeBinanceServer, FakeHyperliquidServer } from "@market-scraper/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConnectorError } from "./connector-error.js";
import { type RateLimitedInfo, RestClient, parseRetryAfter } from "./rest-client.js";

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    expect(parseRetryAfter("2", 0)).toBe(2_000);
    expect(parseRetryAfter("0.5", 0)).toBe(500);
    expect(parseRetryAfter("Thu, 01 Jan 1970 00:00:10 GMT", 4_000)).toBe(6_000);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
  });
});

describe("RestClient against the fake server", () => {
  let fake: FakeHyperliquidServer;
  beforeEach(async () => {
    fake = await FakeHyperliquidServer.start();
  });
  afterEach(async () => {
    await fake.close();
  });

  it("honours 429 + Retry-After and retries", async () => {
    const limited: RateLimitedInfo[] = [];
    // A 429 empties the bucket: 120 000/min refills the 20 weight of a retry in 10 ms.
    const client = new RestClient({
      baseUrl: fake.restUrl,
      weightPerWindow: 120_000,
      onRateLimited: (info) => limited.push(info),
    });
    fake.failRest(2, 429, 0);
    const meta = (await client.post("/info", { type: "meta" }, 20)) as { universe: { name: string }[] };
    expect(meta.universe.map((u) => u.name)).toContain("BTC");
    expect(limited.map((l) => [l.status, l.retryAfterMs, l.attempt])).toEqual([
      [429, 0, 1],
      [429, 0, 2],
    ]);
    expect(fake.restRequests.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(client.rateLimited).toBe(2);
  });

  it("backs off without Retry-After and gives up after maxRetries with RATE_LIMIT", async () => {
    const client = new RestClient({
      baseUrl: fake.restUrl,
      weightPerWindow: 120_000,
      maxRetries: 2,
      backoff: { initialMs: 1, maxMs: 2, jitter: 0 },
    });
    fake.failRest(3);
    await expect(client.post("/info", { type: "meta" }, 20)).rejects.toMatchObject({ code: "RATE_LIMIT" });
  });

  it("reports a 4xx answer as REST_FAILED without retrying", async () => {
    const client = new RestClient({ baseUrl: fake.restUrl, weightPerWindow: 1200 });
    const error = await client.post("/info", { type: "nonsense" }, 20).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe("REST_FAILED");
    expect(fake.restRequests).toHaveLength(1);
  });
});

describe("RestClient GET against the fake Binance server", () => {
  it("honours 418 (banned) and 429 with Retry-After on GET, like a 429 on POST", async () => {
    const fake = await FakeBinanceServer.start({ kind: "spot" });
    try {
      const limited: RateLimitedInfo[] = [];
      const client = new RestClient({
        baseUrl: fake.restUrl,
        weightPerWindow: 120_000,
        onRateLimited: (info) => limited.push(info),
      });
      fake.failRest(1, 418, 0);
      fake.failRest(1, 429, 0);
      const info = (await client.get("/api/v3/exchangeInfo", 20)) as { symbols: { symbol: string }[] };
      expect(info.symbols.map((s) => s.symbol)).toContain("BTCUSDT");
      expect(limited.map((l) => [l.status, l.retryAfterMs])).toEqual([
        [418, 0],
        [429, 0],
      ]);
      expect(fake.restRequests.map((r) => r.status)).toEqual([418, 429, 200]);
    } finally {
      await fake.close();
    }
  });
});
