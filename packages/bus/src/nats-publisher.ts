import {
  ClosedConnectionError,
  InvalidArgumentError,
  InvalidSubjectError,
  type NatsConnection,
  PermissionViolationError,
  headers,
} from "@nats-io/transport-node";
import { backoffDelay } from "./backoff.js";
import { BoundedQueue } from "./bounded-queue.js";
import { BusError, errorMessage } from "./errors.js";
import type { BusMetrics } from "./event-bus.js";
import { JetStreamAcks, JetStreamPublishError } from "./jetstream-acks.js";
import type { BusLogger } from "./logger.js";

export interface Outbound {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Becomes `Nats-Msg-Id`: JetStream drops a second copy within the duplicate window. */
  readonly msgId: string | undefined;
  attempts: number;
  /** Called once the message is stored (JetStream) or written (core), or given up with the error. */
  readonly done: ((error?: unknown) => void) | undefined;
}

export interface NatsPublisherOptions {
  mode: "jetstream" | "core";
  queueSize: number;
  window: number;
  timeoutMs: number;
  /** Core mode: also send `Nats-Msg-Id` (JetStream mode always does). */
  coreMsgId: boolean;
  logger: BusLogger;
  metrics: BusMetrics;
  /** Randomness of the retry backoff's jitter; default `Math.random`. */
  random?: () => number;
}

/** Pause after consecutive failed publishes: 50 ms doubling up to 2 s, jittered (`backoffDelay`). */
export const PUBLISH_RETRY_BACKOFF = { initialMs: 50, maxMs: 2_000 } as const;

/** Errors that retrying cannot fix: the message is given up (counted as dropped, logged). */
function isPermanent(err: unknown): boolean {
  if (
    err instanceof InvalidSubjectError ||
    err instanceof InvalidArgumentError ||
    err instanceof PermissionViolationError ||
    err instanceof ClosedConnectionError
  ) {
    return true;
  }
  // No stream answering (503) or a late ack (408) is worth retrying; other refusals are about the message.
  if (err instanceof JetStreamPublishError) return !err.retryable;
  return /maximum payload|max_payload/i.test(errorMessage(err));
}

const RESOLVED = Promise.resolve();

/**
 * The outbound side of the NATS bus. The JS client has no reconnect buffer, so every publish goes
 * through a bounded queue: sent while connected (JetStream: with a window of unacknowledged publishes),
 * held while disconnected, retried with the same `Nats-Msg-Id` on failure, so an outage loses nothing
 * and duplicates are dropped by the server. A full queue makes `enqueue` wait (backpressure).
 */
export class NatsPublisher {
  readonly #queue: BoundedQueue<Outbound>;
  readonly #retries: Outbound[] = [];
  #inflight = 0;
  #connected = true;
  #paused = false;
  #consecutiveFailures = 0;
  #flushWaiters: (() => void)[] = [];
  #pumpScheduled = false;
  #lastFailureLog = 0;
  #lastDropLog = 0;
  #droppedSinceLog = 0;
  #closed = false;
  readonly #acks: JetStreamAcks | null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: NatsPublisherOptions,
  ) {
    this.#queue = new BoundedQueue(options.queueSize);
    this.#acks = options.mode === "jetstream" ? new JetStreamAcks(nc, options.timeoutMs) : null;
  }

  get pending(): number {
    return this.#queue.length + this.#retries.length + this.#inflight;
  }

  /** Accepts a message for sending; waits while the queue is full. */
  enqueue(item: Outbound): Promise<void> {
    if (this.#queue.push(item)) {
      this.#schedulePump();
      return RESOLVED;
    }
    return this.#enqueueSlow(item);
  }

  async #enqueueSlow(item: Outbound): Promise<void> {
    while (!this.#queue.push(item)) {
      this.#schedulePump();
      await this.#queue.waitForSpace();
    }
    this.#schedulePump();
  }

  /**
   * Sends once per event-loop turn rather than once per publish: a producer awaiting each publish
   * would otherwise make the client write to the socket once per message.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Sends and resolves once stored (or rejects when given up). */
  send(subject: string, data: Uint8Array, msgId?: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (error?: unknown) =>
        error === undefined
          ? resolve()
          : reject(error instanceof Error ? error : new Error(errorMessage(error)));
      this.enqueue({ subject, data, msgId, attempts: 0, done }).catch(reject);
    });
  }

  /**
   * Held while disconnected; on the reconnect, the publishes whose acks the old connection lost are
   * sent again first (same `Nats-Msg-Id`), at once rather than at their ack timeout.
   */
  setConnected(connected: boolean): void {
    if (connected && !this.#connected && this.#acks !== null) {
      // Still marked disconnected here, so `#failed` queues them for the pump below without a backoff.
      const lost = this.#acks.reconnected();
      if (lost > 0) {
        this.options.logger.info(
          { publishes: lost },
          "publishes unacknowledged at the reconnect: sending them again",
        );
      }
    }
    this.#connected = connected;
    if (connected) this.#pump();
  }

  #pump(): void {
    const { window } = this.options;
    while (this.#connected && !this.#paused && this.#inflight < window) {
      const item = this.#retries.shift() ?? this.#queue.shift();
      if (item === undefined) break;
      this.#send(item);
    }
    this.#checkFlushed();
  }

  #send(item: Outbound): void {
    if (this.options.mode === "core") {
      try {
        // A core publish that throws was never sent, so a retry cannot duplicate it: the header would
        // only serve JetStream de-duplication of copies sent by other means, and costs ~1 µs per message.
        if (item.msgId === undefined || !this.options.coreMsgId) {
          this.nc.publish(item.subject, item.data);
        } else {
          const h = headers();
          h.set("Nats-Msg-Id", item.msgId);
          this.nc.publish(item.subject, item.data, { headers: h });
        }
        this.#succeeded(item);
      } catch (err) {
        this.#failed(item, err);
      }
      return;
    }
    this.#inflight++;
    this.#acks!.publish(item.subject, item.data, item.msgId, (err?: unknown) => {
      this.#inflight--;
      if (this.#closed) {
        item.done?.(err); // counted as dropped by close()
        return;
      }
      if (err === undefined) this.#succeeded(item);
      else this.#failed(item, err);
      this.#pump();
    });
  }

  /** Why JetStream publishes cannot be acknowledged, if they cannot; `undefined` when they can. */
  get acksBroken(): unknown {
    return this.#acks?.broken;
  }

  /** The server refused the ack subscription (reported on the connection status): see JetStreamAcks. */
  acksRefused(err: Error): void {
    this.#acks?.refuse(err);
  }

  /** The server refused a publish to `subject` (permissions): fail it now rather than at its timeout. */
  refusePublish(subject: string, error: unknown): void {
    this.#acks?.refusePublish(subject, error);
  }

  #succeeded(item: Outbound): void {
    this.#consecutiveFailures = 0;
    item.done?.();
  }

  #failed(item: Outbound, err: unknown): void {
    item.attempts++;
    if (isPermanent(err)) {
      this.options.metrics.dropped++;
      // One line per 5 s at most (with how many since): a broken permission must not flood the log.
      this.#droppedSinceLog++;
      const now = Date.now();
      if (now - this.#lastDropLog > 5000) {
        this.options.logger.error(
          { err, subject: item.subject, attempts: item.attempts, dropped: this.#droppedSinceLog },
          "publish failed permanently",
        );
        this.#lastDropLog = now;
        this.#droppedSinceLog = 0;
      }
      item.done?.(
        new BusError("PUBLISH_FAILED", `publish to ${item.subject} failed: ${errorMessage(err)}`, {
          cause: err,
        }),
      );
      return;
    }
    this.#retries.push(item);
    // A failure while disconnected says nothing about the server: the reconnect sends it again.
    if (!this.#connected) return;
    this.#consecutiveFailures++;
    let retryInMs: number | undefined;
    if (!this.#paused) {
      this.#paused = true;
      retryInMs = backoffDelay(this.#consecutiveFailures, PUBLISH_RETRY_BACKOFF, this.options.random);
      setTimeout(() => {
        this.#paused = false;
        this.#pump();
      }, retryInMs).unref();
    }
    const now = Date.now();
    if (now - this.#lastFailureLog > 5000) {
      this.#lastFailureLog = now;
      this.options.logger.warn(
        { err, subject: item.subject, pending: this.pending, retryInMs },
        "publish failed, will retry",
      );
    }
  }

  #checkFlushed(): void {
    if (this.pending > 0 || this.#flushWaiters.length === 0) return;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once everything enqueued so far has been sent (and, for JetStream, stored). */
  flush(): Promise<void> {
    if (this.pending === 0) return RESOLVED;
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /** Waits up to `timeoutMs` for pending messages; what is left is counted as dropped and logged. */
  async close(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.flush().then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      const left = this.pending;
      this.options.metrics.dropped += left;
      this.options.logger.error({ dropped: left }, "closing with unsent messages");
      for (const item of [...this.#retries.splice(0), ...this.#queue.drain()]) {
        item.done?.(new BusError("BUS_CLOSED", "bus closed before the message was sent"));
      }
    }
    this.#closed = true;
    this.#acks?.close(new BusError("BUS_CLOSED", "bus closed before JetStream acknowledged the message"));
  }
}
