export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window resets (for `Retry-After` and `RateLimit-Reset`). */
  readonly resetSeconds: number;
}

export interface RateLimiterOptions {
  /** Requests per window for callers without a limit of their own. */
  limit: number;
  windowMs: number;
  /** Milliseconds since the epoch; injected so tests are exact. */
  clock?: () => number;
  /** Callers tracked at once; the oldest windows are evicted past this. Default 100,000. */
  maxTracked?: number;
}

interface Window {
  start: number;
  count: number;
}

/**
 * Fixed-window request counting per caller (API key or client address). Windows are aligned to the
 * clock (every caller's window resets at the same instants), so no timers are needed: a stale window
 * is simply replaced on the caller's next request.
 */
export class RateLimiter {
  readonly #options: Required<Omit<RateLimiterOptions, "clock">>;
  readonly #clock: () => number;
  readonly #windows = new Map<string, Window>();

  constructor(options: RateLimiterOptions) {
    this.#options = {
      limit: options.limit,
      windowMs: options.windowMs,
      maxTracked: options.maxTracked ?? 100_000,
    };
    this.#clock = options.clock ?? Date.now;
  }

  /** Counts one request of `caller` and says whether it may go on. */
  take(caller: string, limit: number = this.#options.limit): RateLimitDecision {
    return this.#decide(caller, limit, true);
  }

  /** Whether `caller` may go on, without counting a request. */
  peek(caller: string, limit: number = this.#options.limit): RateLimitDecision {
    return this.#decide(caller, limit, false);
  }

  #decide(caller: string, limit: number, count: boolean): RateLimitDecision {
    const now = this.#clock();
    const { windowMs } = this.#options;
    const start = now - (now % windowMs);
    let window = this.#windows.get(caller);
    const resetSeconds = Math.max(1, Math.ceil((start + windowMs - now) / 1000));
    if (window === undefined || window.start !== start) {
      // A peek tracks nobody: only counted requests take a place in the map.
      if (!count) return { allowed: true, limit, remaining: limit, resetSeconds };
      if (window === undefined && this.#windows.size >= this.#options.maxTracked) this.#evict(start);
      window = { start, count: 0 };
      this.#windows.set(caller, window);
    }
    if (window.count >= limit) return { allowed: false, limit, remaining: 0, resetSeconds };
    if (count) window.count++;
    return { allowed: true, limit, remaining: limit - window.count, resetSeconds };
  }

  #evict(current: number): void {
    for (const [caller, window] of this.#windows) if (window.start !== current) this.#windows.delete(caller);
    // Everyone is in the current window: drop the oldest entries (insertion order).
    for (const caller of this.#windows.keys()) {
      if (this.#windows.size < this.#options.maxTracked) break;
      this.#windows.delete(caller);
    }
  }
}
