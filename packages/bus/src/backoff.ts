export interface BackoffOptions {
  /** First delay; default 500 ms. */
  initialMs?: number;
  /** Upper bound of a delay; default 30 s. */
  maxMs?: number;
  /** Growth per attempt; default 2. */
  factor?: number;
  /**
   * Share of the delay that is random, 0-1; default 0.5: a delay is drawn from [d·(1-jitter), d], so
   * many clients cut at once do not come back in lockstep.
   */
  jitter?: number;
}

/**
 * The project's one backoff formula (reconnects, REST retries, redelivery, database retries).
 * Exponential backoff with jitter: attempt n (1-based) waits `min(maxMs, initialMs·factor^(n-1))`,
 * reduced by a random share of up to `jitter`. `random` is injected so tests are exact.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  const base = Math.min(max, initial * factor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - jitter * random()));
}
