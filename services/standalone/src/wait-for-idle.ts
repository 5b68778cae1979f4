import type { EventBus } from "@market-scraper/bus";

export interface WaitForIdleOptions {
  /** Quiet period: no publish and no delivery for this long. Default 100 ms. */
  idleMs?: number;
  /** Give up after this long (shutdown must not hang). Default 10 s. */
  timeoutMs?: number;
}

/**
 * Resolves once the bus has been quiet (its publish and delivery counters unchanged) for `idleMs`, or
 * after `timeoutMs`. At shutdown this lets the events already handed to in-process subscribers be worked
 * through before the next service stops: the bus has no per-queue view, so quiet counters are the signal.
 * Returns whether the bus went quiet.
 */
export async function waitForIdle(bus: EventBus, options: WaitForIdleOptions = {}): Promise<boolean> {
  const idleMs = options.idleMs ?? 100;
  const deadline = performance.now() + (options.timeoutMs ?? 10_000);
  const snapshot = () => {
    const m = bus.metrics();
    return `${m.published}/${m.delivered}/${m.failed}/${m.dead_lettered}`;
  };
  let last = snapshot();
  let quietSince = performance.now();
  while (performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(5, idleMs / 5)));
    const now = snapshot();
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= idleMs) {
      return true;
    }
  }
  return false;
}
