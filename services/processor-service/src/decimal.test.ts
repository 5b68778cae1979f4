import { describe, expect, it } from "vitest";
import {
  add,
  deserialize,
  fromNumber,
  half,
  parseDecimal,
  serialize,
  sub,
  toDecimalString,
  toNumber,
} from "./decimal.js";

describe("decimal", () => {
  it("reads numbers as the decimal they were written as", () => {
    expect(toDecimalString(fromNumber(0.1))).toBe("0.1");
    expect(toDecimalString(fromNumber(1e-7))).toBe("0.0000001");
    expect(toDecimalString(fromNumber(1.5e21))).toBe("1500000000000000000000");
    expect(toDecimalString(fromNumber(-2.5))).toBe("-2.5");
    expect(() => fromNumber(Infinity)).toThrow();
  });

  it("adds exactly and rounds once", () => {
    let sum = fromNumber(0);
    for (let i = 0; i < 10; i++) sum = add(sum, fromNumber(0.1));
    expect(toNumber(sum)).toBe(1);
    expect(toNumber(add(fromNumber(0.1), fromNumber(0.2)))).toBe(0.3);
    expect(toNumber(sub(fromNumber(0.3), fromNumber(0.1)))).toBe(0.2);
    expect(toNumber(half(fromNumber(0.3)))).toBe(0.15);
  });

  it("rounds the exact sum to the nearest double", () => {
    // 2^53 + 1 is not a double: the exact sum must round to even (2^53), not accumulate error.
    const big = add(parseDecimal("9007199254740992"), parseDecimal("1"));
    expect(toDecimalString(big)).toBe("9007199254740993");
    expect(toNumber(big)).toBe(9007199254740992);
  });

  it("serializes for checkpoints", () => {
    const d = add(fromNumber(12.345), fromNumber(0.00001));
    expect(deserialize(serialize(d))).toEqual(d);
  });
});
