import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.js";

describe("RateLimiter", () => {
  it("allows `limit` requests per window and caller, then refuses until the next window", () => {
    const clock = { now: 60_000 * 1000 + 15_000 }; // 15 s into a window
    const limiter = new RateLimiter({ limit: 2, windowMs: 60_000, clock: () => clock.now });
    expect(limiter.take("a")).toEqual({ allowed: true, limit: 2, remaining: 1, resetSeconds: 45 });
    expect(limiter.take("a")).toMatchObject({ allowed: true, remaining: 0 });
    expect(limiter.take("a")).toEqual({ allowed: false, limit: 2, remaining: 0, resetSeconds: 45 });
    expect(limiter.take("b")).toMatchObject({ allowed: true, remaining: 1 });

    clock.now += 44_500;
    expect(limiter.take("a")).toMatchObject({ allowed: false, resetSeconds: 1 });
    clock.now += 500; // the next window
    expect(limiter.take("a")).toMatchObject({ allowed: true, remaining: 1, resetSeconds: 60 });
  });

  it("takes a caller's own limit", () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 1000, clock: () => 0 });
    expect([1, 2, 3, 4].map(() => limiter.take("big", 3).allowed)).toEqual([true, true, true, false]);
  });

  it("tracks a bounded number of callers", () => {
    const clock = { now: 0 };
    const limiter = new RateLimiter({ limit: 1, windowMs: 1000, clock: () => clock.now, maxTracked: 2 });
    limiter.take("a");
    limiter.take("b");
    limiter.take("c"); // evicts the oldest, "a"
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("c").allowed).toBe(false);
  });

  it("peeks without counting or tracking: peeks at many callers evict no counted one", () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 60_000, clock: () => 0, maxTracked: 2 });
    limiter.take("guesser");
    for (let i = 0; i < 10; i++) expect(limiter.peek(`caller-${i}`).allowed).toBe(true);
    expect(limiter.peek("guesser").allowed).toBe(false);
    expect(limiter.take("guesser").allowed).toBe(false);
  });
});
