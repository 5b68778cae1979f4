import { parseEnv } from "@market-scraper/runtime";
import { describe, expect, it } from "vitest";
import { processorEnv } from "./config.js";

describe("processorEnv", () => {
  it("has the documented defaults", () => {
    const config = parseEnv(processorEnv, {});
    expect(config).toMatchObject({
      HTTP_PORT: 9102,
      PROCESSORS: ["validate", "dedup", "ohlcv"],
      OHLCV_INTERVALS: ["1m", "5m", "1h"],
      OHLCV_LATENESS_MS: 2000,
      PROCESSOR_PARTITION: { index: 0, count: 1 },
      PROCESSOR_GROUP: "processor",
    });
  });

  it("parses the variables and names the bad ones", () => {
    const config = parseEnv(processorEnv, {
      PROCESSORS: "validate, top-of-book",
      OHLCV_INTERVALS: "1m,3m,4h,1d",
      OHLCV_LATENESS_MS: "500ms",
      PROCESSOR_PARTITION: "1/4",
    });
    expect(config.PROCESSORS).toEqual(["validate", "top-of-book"]);
    expect(config.OHLCV_INTERVALS).toEqual(["1m", "3m", "4h", "1d"]);
    expect(config.OHLCV_LATENESS_MS).toBe(500);
    expect(config.PROCESSOR_PARTITION).toEqual({ index: 1, count: 4 });
    expect(() => parseEnv(processorEnv, { PROCESSORS: "validate,nope" })).toThrow(/PROCESSORS/);
    expect(() => parseEnv(processorEnv, { OHLCV_INTERVALS: "1m,7x" })).toThrow(/OHLCV_INTERVALS/);
    expect(() => parseEnv(processorEnv, { PROCESSOR_PARTITION: "2/2" })).toThrow(/PROCESSOR_PARTITION/);
    expect(() => parseEnv(processorEnv, { DEDUP_WINDOW: "50000" })).toThrow(/DEDUP_WINDOW/);
  });
});
