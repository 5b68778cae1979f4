import { describe, expect, it } from "vitest";
import { median, percentile, summarize } from "./stats.js";

const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

describe("percentile", () => {
  it("interpolates between the closest ranks", () => {
    expect(percentile(oneToHundred, 50)).toBeCloseTo(50.5, 10);
    expect(percentile(oneToHundred, 99)).toBeCloseTo(99.01, 10);
    expect(percentile([10, 20], 25)).toBeCloseTo(12.5, 10);
  });

  it("returns the extremes at 0 and 100", () => {
    expect(percentile(oneToHundred, 0)).toBe(1);
    expect(percentile(oneToHundred, 100)).toBe(100);
  });

  it("handles one value and no values", () => {
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it("accepts typed arrays", () => {
    expect(percentile(Float64Array.from([1, 2, 3]), 50)).toBe(2);
  });

  it("rejects a percentile outside 0..100", () => {
    expect(() => percentile([1], -1)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });
});

describe("median", () => {
  it("takes the middle value of an odd count, unsorted input", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([300_000, 120_000, 310_000])).toBe(300_000);
  });

  it("averages the middle two of an even count", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("ignores NaN and returns NaN for nothing", () => {
    expect(median([Number.NaN, 5, 1])).toBe(3);
    expect(median([])).toBeNaN();
  });

  it("does not reorder its input", () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe("summarize", () => {
  it("summarizes the first count samples numerically, leaving the input alone", () => {
    const samples = Float64Array.from([10, 2, 1, 100, 9999]);
    const s = summarize(samples, 4);
    expect(s.count).toBe(4);
    expect(s.p50).toBe(6); // 1 2 10 100 → between 2 and 10
    expect(s.max).toBe(100);
    expect(s.mean).toBeCloseTo(28.25, 10);
    expect(Array.from(samples)).toEqual([10, 2, 1, 100, 9999]);
  });

  it("gives NaN figures for no samples", () => {
    const s = summarize(new Float64Array(8), 0);
    expect(s.count).toBe(0);
    expect(s.p99).toBeNaN();
    expect(s.mean).toBeNaN();
    expect(s.max).toBeNaN();
  });
});
