import {
  type EventFilter,
  type NormalizedFilter,
  type Stage,
  type StandardEvent,
  decodeEvent,
  encodeEvent,
  matchesFilter,
  parseSubject,
  stageOf,
  subjectFor,
} from "@market-scraper/events";
import { BoundedQueue, type OverflowPolicy } from "./bounded-queue.js";
import { createBusMetrics } from "./bus-metrics.js";
import { DeadLetterHub } from "./dead-letters.js";
import { type Delivery, QueueWorker } from "./delivery-worker.js";
import { normalizeBusFilter } from "./subscription-handle.js";
import { BusError, errorMessage } from "./errors.js";
import type {
  BusMetrics,
  DeadLetter,
  EventBus,
  EventHandler,
  SubscribeOptions,
  Subscription,
} from "./event-bus.js";
import { type BusLogger, silentLogger } from "./logger.js";
import { type RetryOptions, type RetryPolicy, retryPolicy } from "./retry-policy.js";

export interface MemoryEventBusOptions extends RetryOptions {
  /** Events each subscription (or group, or durable) may hold before the overflow policy applies. Default 10,000. */
  queueSize?: number;
  /** Default `block`: `publish` waits for space, so nothing is dropped. */
  overflow?: OverflowPolicy;
  /** `source` of the `error` events this bus publishes for dead letters. Default `event-bus`. */
  source?: string;
  logger?: BusLogger;
  /** How long `close()` lets subscribers work through what is queued. Default 10 s. */
  closeTimeoutMs?: number;
}

/** Events matching one filter, shared by the members of a group or a durable, or held by one subscriber. */
interface Consumer {
  readonly key: string;
  readonly filter: NormalizedFilter;
  readonly queue: BoundedQueue<Delivery>;
  readonly durable: boolean;
  readonly members: Set<QueueWorker>;
}

const RESOLVED = Promise.resolve();

/** A delivery whose subject is only worked out when needed (dead letters): most never need it. */
class LocalDelivery implements Delivery {
  #subject: string | null;

  constructor(
    readonly event: StandardEvent,
    private readonly stage: Stage,
    subject: string | null,
  ) {
    this.#subject = subject;
  }

  get subject(): string {
    return (this.#subject ??= subjectFor(this.event, this.stage));
  }
}

/**
 * The in-process bus: each subscription (or group, or durable) has a bounded queue worked by its
 * handlers one event at a time. A durable keeps its queue while no subscriber is attached, so events
 * published meanwhile are delivered when one comes back (within this process's life).
 */
export class MemoryEventBus implements EventBus {
  readonly #consumers = new Map<string, Consumer>();
  readonly #metrics = createBusMetrics();
  readonly #deadLetters: DeadLetterHub;
  readonly #policy: RetryPolicy;
  readonly #queueSize: number;
  readonly #overflow: OverflowPolicy;
  readonly #logger: BusLogger;
  readonly #closeTimeoutMs: number;
  #closed = false;
  #anonymous = 0;
  #lastOverflowLog = 0;

  constructor(options: MemoryEventBusOptions = {}) {
    this.#policy = retryPolicy(options);
    this.#queueSize = options.queueSize ?? 10_000;
    this.#overflow = options.overflow ?? "block";
    this.#logger = options.logger ?? silentLogger;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.#deadLetters = new DeadLetterHub(this.#logger, this.#metrics, options.source ?? "event-bus");
  }

  publish(event: StandardEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new BusError("BUS_CLOSED", "publish on a closed bus"));
    this.#metrics.published++;
    return this.#dispatch(event, stageOf(event), null, false);
  }

  async publishRaw(subject: string, data: Uint8Array): Promise<void> {
    if (this.#closed) throw new BusError("BUS_CLOSED", "publish on a closed bus");
    this.#metrics.published++;
    let event: StandardEvent;
    let stage: Stage;
    try {
      const parsed = parseSubject(subject);
      if (parsed.stage === "deadletter") return; // nobody subscribes to dead letters through filters
      stage = parsed.stage;
      event = decodeEvent(data);
    } catch (err) {
      this.#metrics.malformed++;
      this.#deadLetter({ subject, data, reason: "MALFORMED", error: errorMessage(err), attempts: 0 });
      return;
    }
    await this.#dispatch(event, stage, subject, false);
  }

  /** Puts the event on every matching consumer's queue, applying the overflow policy. */
  #dispatch(event: StandardEvent, stage: Stage, subject: string | null, neverWait: boolean): Promise<void> {
    let pending: Promise<void>[] | null = null;
    let delivery: Delivery | null = null;
    for (const consumer of this.#consumers.values()) {
      if (!matchesFilter(consumer.filter, event, stage)) continue;
      delivery ??= new LocalDelivery(event, stage, subject);
      if (consumer.queue.push(delivery)) continue;
      const waiting = this.#overflowed(consumer, delivery, neverWait);
      if (waiting) (pending ??= []).push(waiting);
    }
    if (pending === null) return RESOLVED;
    return Promise.all(pending).then(() => undefined);
  }

  #overflowed(consumer: Consumer, delivery: Delivery, neverWait: boolean): Promise<void> | null {
    const policy = neverWait && this.#overflow === "block" ? "drop-newest" : this.#overflow;
    switch (policy) {
      case "block":
        return this.#waitAndPush(consumer, delivery);
      case "drop-newest":
        this.#dropped(consumer, 1);
        return null;
      case "drop-oldest":
        consumer.queue.shift();
        consumer.queue.push(delivery);
        this.#dropped(consumer, 1);
        return null;
      case "error":
        return Promise.reject(
          new BusError(
            "QUEUE_FULL",
            `queue of subscription ${consumer.key} is full (${consumer.queue.capacity})`,
          ),
        );
    }
  }

  async #waitAndPush(consumer: Consumer, delivery: Delivery): Promise<void> {
    while (!consumer.queue.push(delivery)) {
      if (this.#closed && consumer.members.size === 0) {
        this.#dropped(consumer, 1);
        return;
      }
      await consumer.queue.waitForSpace();
      if (!this.#consumers.has(consumer.key)) return; // removed meanwhile
    }
  }

  #dropped(consumer: Consumer, count: number): void {
    this.#metrics.dropped += count;
    const now = Date.now();
    if (now - this.#lastOverflowLog > 5000) {
      this.#lastOverflowLog = now;
      this.#logger.warn(
        { subscription: consumer.key, dropped_total: this.#metrics.dropped, policy: this.#overflow },
        "subscription queue full: events dropped",
      );
    }
  }

  async subscribe(
    filter: EventFilter,
    handler: EventHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    if (this.#closed) throw new BusError("BUS_CLOSED", "subscribe on a closed bus");
    const normalized = normalizeBusFilter(filter);
    const key =
      options.durable !== undefined
        ? `durable:${options.durable}`
        : options.group !== undefined
          ? `group:${options.group}:${JSON.stringify(filter)}`
          : `sub:${++this.#anonymous}`;
    let consumer = this.#consumers.get(key);
    if (!consumer) {
      consumer = {
        key,
        filter: normalized,
        queue: new BoundedQueue<Delivery>(this.#queueSize),
        durable: options.durable !== undefined,
        members: new Set(),
      };
      this.#consumers.set(key, consumer);
    }
    const worker = new QueueWorker(
      consumer.queue,
      handler,
      this.#policy,
      this.#metrics,
      (delivery, err, attempts) =>
        this.#deadLetter({
          subject: delivery.subject,
          data: encodeEvent(delivery.event),
          reason: "HANDLER_FAILED",
          error: errorMessage(err),
          attempts,
          event_id: delivery.event.event_id,
        }),
    );
    consumer.members.add(worker);
    worker.start();
    const owner = consumer;
    let active = true;
    return {
      filter,
      options,
      unsubscribe: async () => {
        if (!active) return;
        active = false;
        owner.members.delete(worker);
        // The last member of a non-durable subscription works through its queue; nothing else would.
        if (owner.members.size === 0 && !owner.durable) await worker.finish();
        else await worker.stop();
        if (owner.members.size === 0 && !owner.durable && this.#consumers.get(owner.key) === owner) {
          this.#consumers.delete(owner.key);
          const left = owner.queue.drain().length;
          if (left > 0) this.#dropped(owner, left);
          owner.queue.wake();
        }
      },
    };
  }

  #deadLetter(letter: DeadLetter): void {
    const { report } = this.#deadLetters.record(letter);
    if (report === null || this.#closed) return;
    this.#metrics.published++;
    void this.#dispatch(report, "system", null, true);
  }

  async flush(): Promise<void> {
    // Publishing is synchronous hand-over to in-process queues: nothing to wait for.
  }

  onDeadLetter(listener: (letter: DeadLetter) => void): () => void {
    return this.#deadLetters.add(listener);
  }

  metrics(): Readonly<BusMetrics> {
    return { ...this.#metrics };
  }

  isReady(): boolean {
    return !this.#closed;
  }

  /** Stops intake, lets subscribers work through their queues (up to `closeTimeoutMs`), then stops them. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const deadline = Date.now() + this.#closeTimeoutMs;
    for (const consumer of this.#consumers.values()) {
      while (consumer.members.size > 0 && consumer.queue.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const consumers = [...this.#consumers.values()];
    this.#consumers.clear();
    await Promise.all(consumers.flatMap((c) => [...c.members].map((m) => m.stop())));
    for (const consumer of consumers) {
      const left = consumer.queue.drain().length;
      if (left > 0) this.#dropped(consumer, left);
      consumer.queue.wake();
    }
  }
}
