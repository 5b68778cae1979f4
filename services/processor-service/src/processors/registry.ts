import type { EventBus } from "@market-scraper/bus";
import type { Processor, ProcessorOptions } from "../processor.js";
import { DedupProcessor } from "./dedup-processor.js";
import { OhlcvProcessor } from "./ohlcv-processor.js";
import { TopOfBookProcessor } from "./top-of-book-processor.js";
import { ValidateProcessor } from "./validate-processor.js";

export const PROCESSOR_NAMES = ["validate", "dedup", "ohlcv", "top-of-book"] as const;
export type ProcessorName = (typeof PROCESSOR_NAMES)[number];

export function isProcessorName(value: string): value is ProcessorName {
  return (PROCESSOR_NAMES as readonly string[]).includes(value);
}

export interface BuiltInOptions extends ProcessorOptions {
  ohlcvIntervals?: readonly string[];
  ohlcvLatenessMs?: number;
  ohlcvPartial?: boolean;
  dedupWindow?: number;
  maxFutureMs?: number;
}

/** Builds the named built-in processors, in the order given (the order of `PROCESSORS`). */
export function createBuiltInProcessors(
  names: readonly ProcessorName[],
  bus: EventBus | null,
  options: BuiltInOptions = {},
): Processor[] {
  const { ohlcvIntervals, ohlcvLatenessMs, ohlcvPartial, dedupWindow, maxFutureMs, ...common } = options;
  return names.map((name) => {
    switch (name) {
      case "validate":
        return new ValidateProcessor(bus, {
          ...common,
          ...(maxFutureMs === undefined ? {} : { maxFutureMs }),
        });
      case "dedup":
        return new DedupProcessor(bus, {
          ...common,
          ...(dedupWindow === undefined ? {} : { window: dedupWindow }),
        });
      case "ohlcv":
        return new OhlcvProcessor(bus, {
          ...common,
          ...(ohlcvIntervals === undefined ? {} : { intervals: ohlcvIntervals }),
          ...(ohlcvLatenessMs === undefined ? {} : { latenessMs: ohlcvLatenessMs }),
          ...(ohlcvPartial === undefined ? {} : { partial: ohlcvPartial }),
        });
      case "top-of-book":
        return new TopOfBookProcessor(bus, common);
    }
  });
}
