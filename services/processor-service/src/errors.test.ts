import { MarketScraperError } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { DecimalError, parseDecimal } from "./decimal.js";
import { IntervalError, parseInterval } from "./interval.js";
import { PartitionError, parsePartition } from "./partition.js";
import { ProcessorError } from "./processor-error.js";

describe("processor errors", () => {
  it("share the project's error base, each with a code", () => {
    const processor = new ProcessorError("INVALID_OPTION", "bad option");
    expect(processor).toBeInstanceOf(MarketScraperError);
    expect(processor.code).toBe("INVALID_OPTION");
    const thrown = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      throw new Error("did not throw");
    };
    const interval = thrown(() => parseInterval("7x"));
    expect(interval).toBeInstanceOf(IntervalError);
    expect(interval).toBeInstanceOf(MarketScraperError);
    expect(interval).toMatchObject({ name: "IntervalError", code: "INVALID_INTERVAL" });
    const decimal = thrown(() => parseDecimal("1,5"));
    expect(decimal).toBeInstanceOf(DecimalError);
    expect(decimal).toMatchObject({ name: "DecimalError", code: "INVALID_DECIMAL" });
    const partition = thrown(() => parsePartition("2/2"));
    expect(partition).toBeInstanceOf(PartitionError);
    expect(partition).toMatchObject({ name: "PartitionError", code: "INVALID_PARTITION" });
  });
});
