import { backoffDelay } from "@market-scraper/bus";
import type { HealthState, Logger } from "@market-scraper/runtime";
import type { StorageMetrics } from "../metrics.js";
import { StoreError, errorMessage } from "../store/store-error.js";
import { sleep } from "./signal.js";

/** The readiness check that database writes set (false while failing). */
export const DATABASE_HEALTH_CHECK = "database";

export interface DatabaseOutageDeps {
  metrics: Pick<StorageMetrics, "insertFailures" | "outageSeconds" | "databaseDown">;
  health: HealthState | undefined;
  log: Logger;
  /** Milliseconds, monotonic. Default `performance.now`. */
  now?: () => number;
}

/**
 * The database as the writes see it, shared by every batch in flight: the first failed write starts an
 * outage (readiness off with the reason, `database_down` 1, one warning), the next success ends it
 * (readiness on, one line with its length). Every failure is counted (`insert_failures_total` by code);
 * the time spent down adds up in `database_outage_seconds_total`.
 */
export class DatabaseOutage {
  readonly #deps: DatabaseOutageDeps;
  readonly #now: () => number;
  #since: number | null = null;
  #counted = 0;
  #failures = 0;

  constructor(deps: DatabaseOutageDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => performance.now());
  }

  /** True from the first failed write until a write succeeds. */
  get down(): boolean {
    return this.#since !== null;
  }

  failed(err: unknown): void {
    const { metrics, health, log } = this.#deps;
    metrics.insertFailures.inc({ code: err instanceof StoreError ? err.code : "INTERNAL" });
    health?.setCheck(DATABASE_HEALTH_CHECK, false, errorMessage(err));
    this.#failures++;
    if (this.#since === null) {
      this.#since = this.#counted = this.#now();
      metrics.databaseDown.set(1);
      log.warn({ err }, "database outage: holding writes and retrying");
    } else {
      this.#countTime();
    }
  }

  succeeded(): void {
    if (this.#since === null) return;
    const { metrics, health, log } = this.#deps;
    this.#countTime();
    const outageMs = Math.round(this.#now() - this.#since);
    this.#since = null;
    metrics.databaseDown.set(0);
    health?.setCheck(DATABASE_HEALTH_CHECK, true);
    log.info({ outageMs, failures: this.#failures }, "database writes recovered");
    this.#failures = 0;
  }

  #countTime(): void {
    const now = this.#now();
    this.#deps.metrics.outageSeconds.inc(Math.max(0, now - this.#counted) / 1000);
    this.#counted = now;
  }
}

export interface InsertRetryOptions<T> {
  /** One attempt: the batch's insert. Rows a healthy database refuses are its business (dead letters). */
  insert: () => Promise<T>;
  outage: DatabaseOutage;
  log: Logger;
  maxBackoffMs: number;
  /** Added to the line logged at each retry (debug). */
  logContext?: Record<string, unknown>;
  /** After each failure (counted, readiness off): `false` gives up, and the result is `null`. */
  shouldRetry?: (err: unknown) => boolean;
  /** Randomness of the backoff's jitter; default `Math.random`. */
  random?: () => number;
  /** Waits between attempts; default a timer. Injected so tests see the delays without waiting them. */
  sleep?: (ms: number) => Promise<void>;
}

/** The first wait after a failed batch insert; it doubles up to `maxBackoffMs` (`backoffDelay`). */
export const INSERT_RETRY_INITIAL_MS = 200;

/**
 * Runs a batch's insert until it succeeds, as both ingest paths do. A failure that reaches here is an
 * outage (the stores classify errors: `UNAVAILABLE`; rows a healthy database refuses never get here):
 * the batch is held whole and retried, the wait doubling from 200 ms up to `maxBackoffMs`, less up to
 * half at random (`backoffDelay`); `outage` turns readiness off and on and logs the transitions, each
 * retry is a debug line.
 */
export function insertWithRetry<T>(o: InsertRetryOptions<T> & { shouldRetry?: undefined }): Promise<T>;
export function insertWithRetry<T>(o: InsertRetryOptions<T>): Promise<T | null>;
export async function insertWithRetry<T>(o: InsertRetryOptions<T>): Promise<T | null> {
  for (let failures = 0; ;) {
    try {
      const result = await o.insert();
      o.outage.succeeded();
      return result;
    } catch (err) {
      o.outage.failed(err);
      if (o.shouldRetry !== undefined && !o.shouldRetry(err)) return null;
      failures++;
      const delay = backoffDelay(
        failures,
        { initialMs: INSERT_RETRY_INITIAL_MS, maxMs: o.maxBackoffMs },
        o.random,
      );
      o.log.debug(
        { err, attempt: failures, retryInMs: delay, ...o.logContext },
        "batch insert failed; retrying",
      );
      await (o.sleep ?? sleep)(delay);
    }
  }
}
