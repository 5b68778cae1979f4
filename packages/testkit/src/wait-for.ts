import { setTimeout as sleep } from "node:timers/promises";
import { TestkitError, describeError } from "./testkit-error.js";

export interface WaitForOptions {
  /** Give up after this long. Default 10 000 ms. */
  timeoutMs?: number;
  /** Pause between two probes. Default 50 ms. */
  intervalMs?: number;
  /** What is being waited for, used in the timeout error ("NATS to be ready"). */
  message?: string;
  /** Stops waiting at once, rejecting with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Calls `probe` until it returns a truthy value and resolves with that value. A probe that throws counts
 * as "not yet"; when time runs out the error names what was awaited and the last error seen (also as
 * `cause`). A probe is never interrupted, so keep each call short (give network probes their own timeout).
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    attempts += 1;
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      await sleep(
        Math.min(intervalMs, remaining),
        undefined,
        options.signal ? { signal: options.signal } : {},
      );
    } catch {
      // Aborted while sleeping: report the signal's reason, not the AbortError of the timer.
      options.signal?.throwIfAborted();
    }
  }
  const what = options.message ?? "condition";
  const last =
    lastError === undefined ? "the probe returned a falsy value" : `last error: ${describeError(lastError)}`;
  throw new TestkitError(
    "WAIT_TIMEOUT",
    `Timed out after ${timeoutMs} ms waiting for ${what} (${attempts} attempts; ${last})`,
    lastError === undefined ? {} : { cause: lastError },
  );
}
