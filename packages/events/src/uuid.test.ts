import { describe, expect, it } from "vitest";
import { uuidv7, uuidv7Time } from "./uuid.js";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("uuidv7", () => {
  it("is a version 7, variant 10 UUID carrying the given millisecond", () => {
    for (const ms of [0, 1, 0xffffff, 0x1000000, 1_705_314_600_123, 2 ** 48 - 1, 1.9]) {
      const id = uuidv7(ms);
      expect(id).toMatch(V7);
      expect(uuidv7Time(id)).toBe(Math.floor(ms));
    }
    expect(uuidv7(1_705_314_600_123).slice(0, 13)).toBe("018d0cab-c4bb"); // 1705314600123 = 0x018d0cabc4bb;
  });

  it("gives distinct ids that sort by time, across many pool refills", () => {
    const ids = Array.from({ length: 5000 }, (_, i) => uuidv7(1_705_314_600_000 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(ids.length);
    const byTime = ids.map((id) => uuidv7Time(id)!);
    expect(byTime).toEqual([...byTime].sort((a, b) => a - b));
    // Every random hex digit takes many values (the random part is not stuck).
    for (const at of [15, 16, 17, 20, 21, 22, 24, 30, 35])
      expect(new Set(ids.map((id) => id[at])).size).toBeGreaterThan(8);
  });

  it("returns independent strings (the bytes it writes into are reused)", () => {
    const a = uuidv7(1);
    const b = uuidv7(2);
    expect(a).not.toBe(b);
    expect(uuidv7Time(a)).toBe(1);
  });
});
