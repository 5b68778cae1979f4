import { type Scheduler, systemScheduler } from "./scheduler.js";

export interface WeightRateLimiterOptions {
  /** Weight the exchange allows per window (Hyperliquid: 1200 per minute). */
  capacity: number;
  /** Window of `capacity`; default 60 s. Weight comes back continuously over the window. */
  windowMs?: number;
  scheduler?: Scheduler;
}

interface Waiter {
  weight: number;
  resolve: () => void;
}

/**
 * A token bucket measured in request weight: `acquire(w)` resolves once `w` weight is available, in
 * FIFO order. `pauseFor(ms)` holds every request (a 429's `Retry-After`), and drains the bucket so the
 * requests after the pause start slowly.
 */
export class WeightRateLimiter {
  readonly #capacity: number;
  readonly #ratePerMs: number;
  readonly #scheduler: Scheduler;
  readonly #queue: Waiter[] = [];
  #tokens: number;
  #updatedAt: number;
  #pausedUntil = 0;
  #timer: object | undefined;

  constructor(options: WeightRateLimiterOptions) {
    this.#capacity = options.capacity;
    this.#ratePerMs = options.capacity / (options.windowMs ?? 60_000);
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#tokens = options.capacity;
    this.#updatedAt = this.#scheduler.now();
  }

  /** Weight available now. */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  get queued(): number {
    return this.#queue.length;
  }

  acquire(weight: number): Promise<void> {
    const w = Math.min(weight, this.#capacity);
    return new Promise<void>((resolve) => {
      this.#queue.push({ weight: w, resolve });
      this.#drain();
    });
  }

  /** Holds all requests for `ms` (e.g. `Retry-After`) and empties the bucket. */
  pauseFor(ms: number): void {
    this.#refill();
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#scheduler.now() + ms);
    this.#tokens = 0;
    this.#scheduler.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#drain();
  }

  #refill(): void {
    const now = this.#scheduler.now();
    const from = Math.max(this.#updatedAt, this.#pausedUntil);
    if (now > from) this.#tokens = Math.min(this.#capacity, this.#tokens + (now - from) * this.#ratePerMs);
    this.#updatedAt = Math.max(now, this.#updatedAt);
  }

  #drain(): void {
    if (this.#timer !== undefined) return;
    this.#refill();
    const now = this.#scheduler.now();
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (now >= this.#pausedUntil && this.#tokens >= head.weight) {
        this.#tokens -= head.weight;
        this.#queue.shift();
        head.resolve();
        continue;
      }
      const waitPause = Math.max(0, this.#pausedUntil - now);
      const missing = Math.max(0, head.weight - this.#tokens);
      const delay = Math.max(1, Math.ceil(waitPause + missing / this.#ratePerMs));
      this.#timer = this.#scheduler.setTimeout(() => {
        this.#timer = undefined;
        this.#drain();
      }, delay);
      return;
    }
  }
}
