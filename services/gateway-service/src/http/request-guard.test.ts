import { describe, expect, it } from "vitest";
import { ApiKeys } from "./api-keys.js";
import { GatewayError } from "./gateway-error.js";
import {
  type GuardedRequest,
  type RequestGuardOptions,
  guardRequest,
  isStream,
  isV1,
} from "./request-guard.js";
import { RateLimiter } from "./rate-limiter.js";

const request = (over: Partial<GuardedRequest> = {}): GuardedRequest => ({
  url: "/v1/markets",
  ip: "10.0.0.1",
  headers: {},
  query: {},
  ...over,
});

function options(over: Partial<RequestGuardOptions> = {}): RequestGuardOptions {
  return {
    apiKeys: new ApiKeys([{ key: "good-key-123", rateLimit: 2 }]),
    limiter: new RateLimiter({ limit: 5, windowMs: 60_000, clock: () => 0 }),
    windowMs: 60_000,
    authFailures: new RateLimiter({ limit: 3, windowMs: 60_000, clock: () => 0 }),
    authFailureWindowMs: 60_000,
    state: () => "ready",
    ...over,
  };
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error instanceof GatewayError ? error.code : "not a GatewayError";
  }
}

describe("guardRequest", () => {
  it("answers 503 first while not ready", () => {
    expect(codeOf(() => guardRequest(request(), options({ state: () => "starting" })))).toBe("UNAVAILABLE");
    expect(codeOf(() => guardRequest(request(), options({ state: () => "stopping" })))).toBe("UNAVAILABLE");
  });

  it("checks the key, and takes ?api_key only on the stream endpoints", () => {
    // Three failures below: room for them, so the valid key after them is not throttled.
    const opts = options({ authFailures: new RateLimiter({ limit: 10, windowMs: 60_000, clock: () => 0 }) });
    expect(codeOf(() => guardRequest(request(), opts))).toBe("UNAUTHORIZED");
    expect(codeOf(() => guardRequest(request({ headers: { "x-api-key": "nope-nope" } }), opts))).toBe(
      "FORBIDDEN",
    );
    expect(codeOf(() => guardRequest(request({ query: { api_key: "good-key-123" } }), opts))).toBe(
      "UNAUTHORIZED",
    );
    const stream = request({
      url: "/v1/stream/sse?api_key=good-key-123",
      query: { api_key: "good-key-123" },
    });
    // Accepted under the key (streams are not rate limited per request, so no RateLimit-* headers).
    expect(guardRequest(stream, opts)).toEqual({
      caller: { id: expect.stringMatching(/^key:/) as unknown, rateLimit: 2 },
      headers: {},
    });
  });

  it("rate-limits per key, or per address while open", () => {
    const keyed = options();
    const withKey = request({ headers: { authorization: "Bearer good-key-123" } });
    guardRequest(withKey, keyed);
    guardRequest(withKey, keyed);
    expect(codeOf(() => guardRequest(withKey, keyed))).toBe("RATE_LIMITED");

    const open = options({ apiKeys: new ApiKeys([]) });
    for (let i = 0; i < 5; i++) guardRequest(request(), open);
    expect(codeOf(() => guardRequest(request(), open))).toBe("RATE_LIMITED");
    expect(guardRequest(request({ ip: "10.0.0.2" }), open).caller.id).toBe("ip:10.0.0.2");
  });
});

describe("failed authentication", () => {
  it("is throttled per address after the limit, valid keys included, until the window ends", () => {
    const outcomes: string[] = [];
    let now = 0;
    const opts = options({
      onAuthFailure: (outcome) => outcomes.push(outcome),
      authFailures: new RateLimiter({ limit: 3, windowMs: 60_000, clock: () => now }),
    });
    const wrong = (ip: string) => request({ ip, headers: { "x-api-key": "wrong-key-1" } });
    const codes = Array.from({ length: 5 }, () => codeOf(() => guardRequest(wrong("10.0.0.1"), opts)));
    expect(codes).toEqual(["FORBIDDEN", "FORBIDDEN", "FORBIDDEN", "RATE_LIMITED", "RATE_LIMITED"]);
    expect(codeOf(() => guardRequest(request(), opts))).toBe("RATE_LIMITED"); // no key: a failure too
    expect(outcomes).toEqual(["refused", "refused", "refused", "throttled", "throttled", "throttled"]);
    try {
      guardRequest(wrong("10.0.0.1"), opts);
    } catch (error) {
      expect((error as GatewayError).headers).toEqual({ "retry-after": "60" });
    }
    // The right key from the throttled address is refused too (a guesser cannot tell a hit), another
    // address goes on as before, and the address is let in again when the window ends.
    const good = request({ ip: "10.0.0.1", headers: { authorization: "Bearer good-key-123" } });
    expect(codeOf(() => guardRequest(good, opts))).toBe("RATE_LIMITED");
    expect(codeOf(() => guardRequest(wrong("10.0.0.2"), opts))).toBe("FORBIDDEN");
    now = 60_000;
    expect(guardRequest(good, opts).caller.id).toMatch(/^key:/);
  });
});

describe("stream endpoints", () => {
  it("are not rate limited per request (they have connection limits of their own)", () => {
    const opts = options({ apiKeys: new ApiKeys([]) });
    for (let i = 0; i < 20; i++) {
      expect(guardRequest(request({ url: "/v1/stream" }), opts).headers).toEqual({});
      expect(guardRequest(request({ url: "/v1/stream/sse?symbols=BTC-USD" }), opts).headers).toEqual({});
    }
    expect(guardRequest(request(), opts).headers["ratelimit-remaining"]).toBe("4");
  });
});

describe("paths", () => {
  it("knows /v1 and the stream endpoints", () => {
    expect([isV1("/v1"), isV1("/v1/events?x=1"), isV1("/v1?x"), isV1("/v10"), isV1("/")]).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect([isStream("/v1/stream?api_key=1"), isStream("/v1/stream/sse"), isStream("/v1/streams")]).toEqual([
      true,
      true,
      false,
    ]);
  });
});
