import { backoffDelay } from "./backoff.js";

/** How often a failing handler is tried, and how long to wait between tries. */
export interface RetryPolicy {
  /** Deliveries before the event is dead-lettered (first delivery included). Default 5. */
  maxDeliver: number;
  /** Delay before delivery `attempt + 1`, given the attempt that just failed (1-based). */
  delayMs(attempt: number): number;
}

export interface RetryOptions {
  maxDeliver?: number;
  /** First retry delay; doubles each time up to `maxRetryDelayMs`. Default 100 ms. */
  retryDelayMs?: number;
  /** Default 5000 ms. */
  maxRetryDelayMs?: number;
}

export function retryPolicy(options: RetryOptions = {}): RetryPolicy {
  const maxDeliver = options.maxDeliver ?? 5;
  const base = options.retryDelayMs ?? 100;
  const cap = options.maxRetryDelayMs ?? 5000;
  if (!Number.isInteger(maxDeliver) || maxDeliver < 1)
    throw new RangeError("maxDeliver must be an integer >= 1");
  // Without jitter: a redelivery delay is per message, so there is no herd to spread.
  const backoff = { initialMs: base, maxMs: cap, factor: 2, jitter: 0 };
  return { maxDeliver, delayMs: (attempt) => backoffDelay(attempt, backoff) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
