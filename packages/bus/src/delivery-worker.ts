import type { StandardEvent } from "@market-scraper/events";
import type { BoundedQueue } from "./bounded-queue.js";
import type { BusMetrics, EventHandler } from "./event-bus.js";
import { type RetryPolicy, sleep } from "./retry-policy.js";

/** One event on its way to a handler, with the subject it came on. */
export interface Delivery {
  readonly event: StandardEvent;
  readonly subject: string;
}

export type GiveUp = (delivery: Delivery, error: unknown, attempts: number) => void;

/**
 * Calls a handler with in-process retries (for subscriptions without a server-side redelivery), then
 * gives up through `onGiveUp` (which dead-letters). Resolves once the event is handled or given up.
 */
export async function runWithRetries(
  handler: EventHandler,
  delivery: Delivery,
  policy: RetryPolicy,
  metrics: BusMetrics,
  onGiveUp: GiveUp,
  failedAttempts = 0,
): Promise<void> {
  if (failedAttempts > 0) {
    if (failedAttempts >= policy.maxDeliver)
      return onGiveUp(delivery, new Error("retries exhausted"), failedAttempts);
    await sleep(policy.delayMs(failedAttempts));
  }
  for (let attempt = failedAttempts + 1; ; attempt++) {
    try {
      const result = handler(delivery.event);
      if (result !== undefined) await result;
      metrics.delivered++;
      return;
    } catch (err) {
      metrics.failed++;
      if (attempt >= policy.maxDeliver) {
        onGiveUp(delivery, err, attempt);
        return;
      }
      await sleep(policy.delayMs(attempt));
    }
  }
}

/**
 * Takes deliveries from a queue one at a time and runs them through `runWithRetries`. Several workers
 * may share one queue (a group): each takes the next event when it is free.
 */
export class QueueWorker {
  #stopped = false;
  #finishing = false;
  #loop: Promise<void> | null = null;

  constructor(
    private readonly queue: BoundedQueue<Delivery>,
    private readonly handler: EventHandler,
    private readonly policy: RetryPolicy,
    private readonly metrics: BusMetrics,
    private readonly onGiveUp: GiveUp,
  ) {}

  start(): void {
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    const { queue } = this;
    while (!this.#stopped) {
      const delivery = queue.shift();
      if (delivery === undefined) {
        if (this.#finishing) break;
        await queue.waitForItem();
        continue;
      }
      // Fast path without an extra promise per event: most handlers succeed the first time.
      try {
        const result = this.handler(delivery.event);
        if (result !== undefined) await result;
        this.metrics.delivered++;
      } catch (err) {
        this.metrics.failed++;
        if (this.policy.maxDeliver <= 1) this.onGiveUp(delivery, err, 1);
        else await runWithRetries(this.handler, delivery, this.policy, this.metrics, this.onGiveUp, 1);
      }
    }
  }

  /** Works through what is queued, then stops. */
  async finish(): Promise<void> {
    this.#finishing = true;
    this.queue.wake();
    await this.#loop;
  }

  /** Stops after the delivery in hand (retries included) is finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.queue.wake();
    await this.#loop;
  }
}
