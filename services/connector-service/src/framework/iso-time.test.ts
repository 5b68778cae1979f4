import { describe, expect, it } from "vitest";
import { IsoFormatter, decimalToNumber, integerToString } from "./iso-time.js";

describe("IsoFormatter", () => {
  it("formats exactly like Date#toISOString across seconds, days and years", () => {
    const formatter = new IsoFormatter();
    let ms = 0;
    for (let i = 0; i < 20_000; i += 1) {
      ms = (ms + 7_919 * 104_729 + i * 86_400_013) % 4_102_444_800_000;
      expect(formatter.format(ms)).toBe(new Date(ms).toISOString());
      expect(formatter.format(ms + 1)).toBe(new Date(ms + 1).toISOString());
    }
    for (const edge of [0, 999, 1000, 86_399_999, 86_400_000, 1_790_232_216_193, 253_402_300_799_999]) {
      expect(formatter.format(edge)).toBe(new Date(edge).toISOString());
    }
  });

  it("falls back to Date outside its fast range", () => {
    const formatter = new IsoFormatter();
    expect(formatter.format(253_402_300_800_000)).toBe(new Date(253_402_300_800_000).toISOString());
    expect(formatter.format(1.5)).toBe(new Date(1.5).toISOString());
  });
});

describe("integerToString", () => {
  it("equals String(n) for safe integers", () => {
    for (const n of [0, 9, 9_999, 10_000, 99_999_999, 100_000_000, 1_016_375_172_059_570, 2 ** 53 - 1]) {
      expect(integerToString(n)).toBe(String(n));
    }
    let n = 1;
    for (let i = 0; i < 5_000; i += 1) {
      n = (n * 48_271 + i) % 2 ** 52;
      expect(integerToString(n)).toBe(String(n));
    }
  });
});

describe("decimalToNumber", () => {
  it("equals Number(text) for the decimals exchanges send", () => {
    for (const text of [
      "0.00036",
      "84143.0",
      "69997",
      "1.",
      ".5",
      "0.0000018952",
      "4161029539.6949653625",
      "123456789012345",
    ]) {
      expect(decimalToNumber(text)).toBe(Number(text));
    }
    let x = 1;
    for (let i = 0; i < 5_000; i += 1) {
      x = (x * 16_807) % 2_147_483_647;
      const text = (x / 10 ** (i % 9)).toFixed(i % 9);
      expect(decimalToNumber(text)).toBe(Number(text));
    }
  });

  it("defers to Number for anything else, and is NaN for empty text", () => {
    expect(decimalToNumber("1e3")).toBe(1000);
    expect(decimalToNumber("-1.5")).toBe(-1.5);
    expect(decimalToNumber("abc")).toBeNaN();
    expect(decimalToNumber("1.2.3")).toBeNaN();
    expect(decimalToNumber("")).toBeNaN();
  });
});
