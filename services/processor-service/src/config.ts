import { baseServiceEnv, booleanFlag, commaList, durationMs, positiveInt } from "@market-scraper/runtime";
import { z } from "zod";
import { IntervalError, parseInterval } from "./interval.js";
import { type Partition, PartitionError, parsePartition } from "./partition.js";
import { PROCESSOR_NAMES, type ProcessorName, isProcessorName } from "./processors/registry.js";

export const DEFAULT_HTTP_PORT = 9102;

const processorList = commaList(["validate", "dedup", "ohlcv"]).transform((names, ctx): ProcessorName[] => {
  if (names.length === 0) ctx.addIssue({ code: "custom", message: "expected at least one processor" });
  for (const name of names) {
    if (!isProcessorName(name)) {
      ctx.addIssue({
        code: "custom",
        message: `unknown processor '${name}' (expected ${PROCESSOR_NAMES.join(", ")})`,
      });
    }
  }
  return [...new Set(names.filter(isProcessorName))];
});

const intervalList = commaList(["1m", "5m", "1h"]).transform((names, ctx) => {
  if (names.length === 0) ctx.addIssue({ code: "custom", message: "expected at least one interval" });
  for (const name of names) {
    try {
      parseInterval(name);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: err instanceof IntervalError ? err.message : String(err) });
    }
  }
  return [...new Set(names)];
});

const partition = z
  .string()
  .default("0/1")
  .transform((raw, ctx): Partition => {
    try {
      return parsePartition(raw);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: err instanceof PartitionError ? err.message : String(err) });
      return z.NEVER;
    }
  });

/** The processor-service's environment (ARCHITECTURE §6 plus its own variables; see README). */
export const processorEnv = baseServiceEnv(DEFAULT_HTTP_PORT).extend({
  PROCESSORS: processorList,
  OHLCV_INTERVALS: intervalList,
  OHLCV_LATENESS_MS: durationMs("2s"),
  OHLCV_PARTIAL: booleanFlag(false),
  // A symbol's checkpoint holds its dedup window and must fit a NATS message (1 MB by default).
  DEDUP_WINDOW: positiveInt(1000).refine((v) => v <= 20_000, "expected at most 20000"),
  VALIDATE_MAX_FUTURE_MS: durationMs("5m"),
  PROCESSOR_PARTITION: partition,
  PROCESSOR_GROUP: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,48}$/, "expected letters, digits, - and _ (at most 48)")
    .default("processor"),
  PROCESSOR_START: z.enum(["all", "new"]).default("all"),
  CHECKPOINT_BUCKET: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "expected letters, digits, - and _")
    .default("processor_checkpoints"),
  CHECKPOINT_REPLICAS: positiveInt(1),
  CHECKPOINT_INTERVAL_MS: durationMs("1s"),
  CHECKPOINT_EVERY: positiveInt(10_000),
});

export type ProcessorConfig = z.output<typeof processorEnv>;
