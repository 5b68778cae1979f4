/** An opaque timer handle of a `Scheduler`. */
export type TimerHandle = { readonly __timer: true } | object;

/**
 * Time and timers, injected wherever behaviour depends on them (backoff, stale detection, keepalive,
 * heartbeats, rate limits) so tests can drive them exactly with `ManualScheduler`.
 */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** Real time: `Date.now()` and unref'd Node timers (a pending retry never keeps the process alive). */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  },
};

interface ManualTimer {
  readonly id: number;
  readonly at: number;
  readonly fn: () => void;
}

/** A scheduler whose time moves only when `advance` is called: timers fire in order, exactly on time. */
export class ManualScheduler implements Scheduler {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, ManualTimer>();

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { id: this.#nextId++, at: this.#now + Math.max(0, ms), fn };
    this.#timers.set(timer.id, timer);
    return { id: timer.id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.#timers.delete((handle as { id: number }).id);
  }

  /** Timers pending now. */
  get pending(): number {
    return this.#timers.size;
  }

  /** The delay until the next timer fires, or undefined when none is pending. */
  nextDelay(): number | undefined {
    let min: number | undefined;
    for (const t of this.#timers.values()) if (min === undefined || t.at < min) min = t.at;
    return min === undefined ? undefined : min - this.#now;
  }

  /** Moves time forward by `ms`, firing every timer due on the way (including ones those timers set). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.#timers.values()) {
        if (
          t.at <= target &&
          (next === undefined || t.at < next.at || (t.at === next.at && t.id < next.id))
        ) {
          next = t;
        }
      }
      if (next === undefined) break;
      this.#timers.delete(next.id);
      this.#now = next.at;
      next.fn();
    }
    this.#now = target;
  }
}
