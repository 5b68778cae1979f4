import { describe, expect, it } from "vitest";
import { parseInterval } from "./interval.js";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe("parseInterval", () => {
  it.each([
    ["1m", "2024-01-15T10:30:59.999Z", "2024-01-15T10:30:00.000Z", "2024-01-15T10:31:00.000Z"],
    ["1m", "2024-01-15T10:31:00.000Z", "2024-01-15T10:31:00.000Z", "2024-01-15T10:32:00.000Z"],
    ["3m", "2024-01-15T10:31:00.000Z", "2024-01-15T10:30:00.000Z", "2024-01-15T10:33:00.000Z"],
    ["15m", "2024-01-15T10:44:59.000Z", "2024-01-15T10:30:00.000Z", "2024-01-15T10:45:00.000Z"],
    ["4h", "2024-01-15T10:30:00.000Z", "2024-01-15T08:00:00.000Z", "2024-01-15T12:00:00.000Z"],
    ["1d", "2024-01-15T23:59:59.999Z", "2024-01-15T00:00:00.000Z", "2024-01-16T00:00:00.000Z"],
    ["30s", "2024-01-15T10:30:45.000Z", "2024-01-15T10:30:30.000Z", "2024-01-15T10:31:00.000Z"],
    ["1w", "2024-01-17T12:00:00.000Z", "2024-01-15T00:00:00.000Z", "2024-01-22T00:00:00.000Z"],
    ["1M", "2024-02-29T12:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"],
    ["3M", "2024-05-10T00:00:00.000Z", "2024-04-01T00:00:00.000Z", "2024-07-01T00:00:00.000Z"],
  ])("%s bucket of %s is [%s, %s)", (name, time, start, end) => {
    const spec = parseInterval(name);
    const s = spec.bucketStart(at(time));
    expect(iso(s)).toBe(start);
    expect(iso(spec.bucketEnd(s))).toBe(end);
  });

  it("rejects malformed intervals", () => {
    for (const bad of ["0m", "m", "1x", "1.5h", ""]) expect(() => parseInterval(bad)).toThrow();
  });
});
