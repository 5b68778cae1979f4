import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff.js";

describe("backoffDelay", () => {
  it("doubles from the initial delay up to the maximum", () => {
    const noJitter = { initialMs: 100, maxMs: 1_000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, noJitter))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("takes up to `jitter` of the delay away at random", () => {
    const options = { initialMs: 1_000, maxMs: 10_000, jitter: 0.5 };
    expect(backoffDelay(1, options, () => 0)).toBe(1_000);
    expect(backoffDelay(1, options, () => 0.999_999)).toBe(500);
    expect(backoffDelay(2, options, () => 0.5)).toBe(1_500);
  });
});
