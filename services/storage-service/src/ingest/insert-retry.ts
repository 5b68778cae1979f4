import type { HealthState, Logger } from "@market-scraper/runtime";
import type { StorageMetrics } from "../metrics.js";
import { StoreError, errorMessage } from "../store/store-error.js";
import { sleep } from "./signal.js";

/** The readiness check that database writes set (false while failing). */
export const DATABASE_HEALTH_CHECK = "database";

export interface InsertRetryOptions<T> {
  /** One attempt: the batch's insert. */
  insert: () => Promise<T>;
  metrics: Pick<StorageMetrics, "insertFailures">;
  health: HealthState | undefined;
  log: Logger;
  maxBackoffMs: number;
  /** Added to the line logged at each failure. */
  logContext?: Record<string, unknown>;
  /** After each failure (counted, readiness off): `false` gives up, and the result is `null`. */
  shouldRetry?: (err: unknown) => boolean;
  /** Before each backoff wait (e.g. keep held messages from being redelivered). */
  beforeWait?: () => void;
}

/**
 * Runs a batch's insert until it succeeds, as both ingest paths do: each failure is counted
 * (`insert_failures_total` by code), turns readiness off and is logged; the wait doubles from 200 ms up
 * to `maxBackoffMs`, with ±25 % jitter; a success after failures turns readiness on again and says so.
 */
export function insertWithRetry<T>(o: InsertRetryOptions<T> & { shouldRetry?: undefined }): Promise<T>;
export function insertWithRetry<T>(o: InsertRetryOptions<T>): Promise<T | null>;
export async function insertWithRetry<T>(o: InsertRetryOptions<T>): Promise<T | null> {
  for (let failures = 0; ;) {
    try {
      const result = await o.insert();
      if (failures > 0) o.log.info({ attempts: failures + 1 }, "database writes recovered");
      o.health?.setCheck(DATABASE_HEALTH_CHECK, true);
      return result;
    } catch (err) {
      o.metrics.insertFailures.inc({ code: err instanceof StoreError ? err.code : "INTERNAL" });
      o.health?.setCheck(DATABASE_HEALTH_CHECK, false, errorMessage(err));
      if (o.shouldRetry !== undefined && !o.shouldRetry(err)) return null;
      failures++;
      const delay = Math.min(o.maxBackoffMs, 100 * 2 ** Math.min(failures, 10));
      o.log.warn(
        { err: errorMessage(err), attempt: failures, retryInMs: delay, ...o.logContext },
        "batch insert failed; retrying",
      );
      o.beforeWait?.();
      await sleep(delay * (0.75 + Math.random() * 0.5));
    }
  }
}
