import {
  type EventFilter,
  type NormalizedFilter,
  type StandardEvent,
  encodeEvent,
  subjectFor,
  subjectsForFilter,
} from "@market-scraper/events";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import {
  type ConnectionOptions,
  type NatsConnection,
  PermissionViolationError,
  type Subscription as NatsSubscription,
  connect,
} from "@nats-io/transport-node";
import { BoundedQueue } from "./bounded-queue.js";
import { createBusMetrics } from "./bus-metrics.js";
import { DeadLetterHub, publishDeadLetter } from "./dead-letters.js";
import { decodeMessage } from "./decode-message.js";
import { type ActiveSubscription, normalizeBusFilter, subscriptionHandle } from "./subscription-handle.js";
import { type Delivery, QueueWorker } from "./delivery-worker.js";
import { type DurableSubscriptionContext, subscribeDurable } from "./durable-subscription.js";
import { BusError, errorMessage } from "./errors.js";
import type {
  BusMetrics,
  DeadLetter,
  EventBus,
  EventHandler,
  SubscribeOptions,
  Subscription,
} from "./event-bus.js";
import { type StreamSettings, ensureStreams } from "./jetstream-streams.js";
import { type BusLogger, silentLogger } from "./logger.js";
import { NatsPublisher } from "./nats-publisher.js";
import { type RetryOptions, type RetryPolicy, retryPolicy } from "./retry-policy.js";

export interface NatsEventBusOptions extends RetryOptions {
  /** Server URLs; ignored when `connection` is given. Default `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  /** Use an existing connection (it is not closed by `close()`). */
  connection?: NatsConnection;
  /** Extra options for the connection the bus opens (auth, name, ...). */
  connectionOptions?: Partial<ConnectionOptions>;
  /** `source` of the `error` events published for dead letters. Default `event-bus`. */
  source?: string;
  logger?: BusLogger;
  /**
   * `jetstream` (default): every publish is stored and acknowledged, retried across outages.
   * `core`: plain NATS publish, faster, at-most-once while the server is unreachable.
   */
  publishMode?: "jetstream" | "core";
  /** Messages held while waiting to be sent; a full queue makes `publish` wait. Default 10,000. */
  publishQueueSize?: number;
  /** Unacknowledged JetStream publishes in flight. Default 256. */
  publishWindow?: number;
  publishTimeoutMs?: number;
  /** `core` mode: send the `Nats-Msg-Id` header too (costs ~1 µs per message). Default false. */
  coreMsgId?: boolean;
  /** Events a plain or group subscription may buffer before dropping (counted). Default 10,000. */
  subscriptionQueueSize?: number;
  /** Create or update the MARKET, PROCESSED and SYSTEM streams at start. Default true. */
  ensureStreams?: boolean;
  streams?: StreamSettings;
  /** Durable consumers: time to ack before the server redelivers. Default 30 s. */
  ackWaitMs?: number;
  /** Durable consumers: unacknowledged messages outstanding. Default 1,000. */
  maxAckPending?: number;
  /** Durable consumers: messages per pull request. Default 256. */
  pullBatch?: number;
  /** Durable consumers: how long a pull request waits for messages (min 1000 ms). Default 1000 ms. */
  pullExpiresMs?: number;
  /** Where a new durable starts: every stored message (`all`, default) or only new ones. */
  durableStart?: "all" | "new";
  /** How long `close()` waits for unsent publishes. Default 10 s. */
  closeTimeoutMs?: number;
  /** Randomness of the publish retry backoff's jitter (`backoffDelay`); default `Math.random`. */
  random?: () => number;
}

/**
 * The NATS bus: core subscriptions (queue groups for `group`), JetStream durable pull consumers for
 * `durable`, publishes through a bounded, retrying queue (see `NatsPublisher`).
 */
export class NatsEventBus implements EventBus {
  readonly #options: NatsEventBusOptions;
  readonly #metrics = createBusMetrics();
  readonly #logger: BusLogger;
  readonly #policy: RetryPolicy;
  readonly #deadLetters: DeadLetterHub;
  readonly #subscriptions = new Set<ActiveSubscription>();
  readonly #init: Promise<void>;
  #nc: NatsConnection | null = null;
  #jsm: JetStreamManager | null = null;
  #publisher: NatsPublisher | null = null;
  #connected = false;
  #closed = false;
  /** True while the ack subscription's ping is in flight at start (see #confirmAckSubscription). */
  #confirmingAcks = false;
  #lastDropLog = 0;

  constructor(options: NatsEventBusOptions = {}) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#policy = retryPolicy(options);
    this.#deadLetters = new DeadLetterHub(this.#logger, this.#metrics, options.source ?? "event-bus");
    this.#init = this.#start();
    this.#init.catch(() => undefined); // surfaced by ready() and every call
  }

  /** Connects (retrying until the server answers) and resolves once the bus is usable. */
  static async connect(options: NatsEventBusOptions = {}): Promise<NatsEventBus> {
    const bus = new NatsEventBus(options);
    await bus.ready();
    return bus;
  }

  ready(): Promise<void> {
    return this.#init;
  }

  /** The underlying connection, e.g. to register a micro service on it. */
  get connection(): NatsConnection {
    if (!this.#nc) throw new BusError("BUS_CLOSED", "the bus is not connected yet: await ready()");
    return this.#nc;
  }

  async #start(): Promise<void> {
    const o = this.#options;
    const nc =
      o.connection ??
      (await connect({
        servers: o.servers ?? "nats://127.0.0.1:4222",
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        waitOnFirstConnect: true,
        noAsyncTraces: true,
        ...o.connectionOptions,
      }));
    this.#nc = nc;
    this.#connected = !nc.isClosed();
    this.#publisher = new NatsPublisher(nc, {
      mode: o.publishMode ?? "jetstream",
      queueSize: o.publishQueueSize ?? 10_000,
      window: o.publishWindow ?? 256,
      timeoutMs: o.publishTimeoutMs ?? 5000,
      coreMsgId: o.coreMsgId ?? false,
      logger: this.#logger,
      metrics: this.#metrics,
      ...(o.random === undefined ? {} : { random: o.random }),
    });
    void this.#watchStatus(nc);
    if ((o.publishMode ?? "jetstream") === "jetstream") await this.#confirmAckSubscription(nc);
    if (o.ensureStreams ?? true) await this.#ensureStreams();
  }

  /**
   * A refusal of the ack subscription arrives before the answer to a ping sent after it; a permissions
   * refusal comes to the subscription, any other (`maximum subscriptions exceeded`) only to the status
   * stream, which cannot name the subscription: so it counts only until this ping is answered (and the
   * status stream has caught up). A bus that could never confirm a publish does not start.
   */
  async #confirmAckSubscription(nc: NatsConnection): Promise<void> {
    this.#confirmingAcks = true;
    try {
      await nc.flush();
      // The status stream delivers through promise jobs of its own: let them all run.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      this.#confirmingAcks = false;
    }
    const broken = this.#publisher?.acksBroken;
    if (broken !== undefined) {
      await this.#publisher?.close(0);
      if (this.#options.connection === undefined) await nc.close();
      throw new BusError(
        "PUBLISH_FAILED",
        `the server refused the JetStream ack subscription: ${errorMessage(broken)}`,
        {
          cause: broken,
        },
      );
    }
  }

  async #manager(): Promise<JetStreamManager> {
    this.#jsm ??= await jetstreamManager(this.#nc!);
    return this.#jsm;
  }

  async #ensureStreams(): Promise<void> {
    await ensureStreams(await this.#manager(), this.#options.streams);
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      switch (status.type) {
        case "disconnect":
          this.#connected = false;
          this.#publisher?.setConnected(false);
          this.#logger.warn({ server: status.server }, "NATS disconnected");
          break;
        case "reconnect":
          this.#connected = true;
          this.#logger.info({ server: status.server }, "NATS reconnected");
          // A server that lost its store (or a new one) gets its streams back before we publish.
          if ((this.#options.ensureStreams ?? true) && !this.#closed) {
            await this.#ensureStreams().catch((err: unknown) =>
              this.#logger.error({ err }, "could not ensure JetStream streams after reconnect"),
            );
          }
          this.#publisher?.setConnected(true);
          break;
        case "error":
          this.#logger.error({ err: status.error }, "NATS connection error");
          if (this.#confirmingAcks && /maximum subscriptions/i.test(errorMessage(status.error))) {
            this.#publisher?.acksRefused(status.error);
          }
          if (status.error instanceof PermissionViolationError && status.error.operation === "publish") {
            this.#publisher?.refusePublish(status.error.subject, status.error);
          }
          break;
        default:
          break;
      }
    }
    this.#connected = false;
  }

  publish(event: StandardEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new BusError("BUS_CLOSED", "publish on a closed bus"));
    const publisher = this.#publisher;
    if (publisher === null) return this.#init.then(() => this.publish(event));
    let subject: string;
    try {
      subject = subjectFor(event);
    } catch (cause) {
      return Promise.reject(new BusError("INVALID_SUBJECT", errorMessage(cause), { cause }));
    }
    this.#metrics.published++;
    return publisher.enqueue({
      subject,
      data: encodeEvent(event),
      msgId: event.event_id,
      attempts: 0,
      done: undefined,
    });
  }

  async publishRaw(subject: string, data: Uint8Array): Promise<void> {
    if (this.#closed) throw new BusError("BUS_CLOSED", "publish on a closed bus");
    await this.#init;
    this.#metrics.published++;
    await this.#publisher!.enqueue({ subject, data, msgId: undefined, attempts: 0, done: undefined });
  }

  async flush(): Promise<void> {
    await this.#init;
    await this.#publisher!.flush();
  }

  async subscribe(
    filter: EventFilter,
    handler: EventHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    if (this.#closed) throw new BusError("BUS_CLOSED", "subscribe on a closed bus");
    await this.#init;
    const normalized = normalizeBusFilter(filter);
    const active =
      options.durable !== undefined
        ? await subscribeDurable(this.#durableContext(), normalized, handler, options.durable)
        : await this.#subscribeCore(normalized, handler, options.group);
    return subscriptionHandle(active, this.#subscriptions, filter, options);
  }

  async #subscribeCore(filter: NormalizedFilter, handler: EventHandler, group: string | undefined) {
    const nc = this.#nc!;
    const queue = new BoundedQueue<Delivery>(this.#options.subscriptionQueueSize ?? 10_000);
    const worker = new QueueWorker(queue, handler, this.#policy, this.#metrics, (delivery, err, attempts) => {
      void this.#deadLetter(
        {
          subject: delivery.subject,
          data: encodeEvent(delivery.event),
          reason: "HANDLER_FAILED",
          error: errorMessage(err),
          attempts,
          event_id: delivery.event.event_id,
        },
        undefined,
      );
    });
    const subs: NatsSubscription[] = subjectsForFilter(filter).map((subject) =>
      nc.subscribe(subject, {
        ...(group === undefined ? {} : { queue: group }),
        callback: (err, msg) => {
          if (err) {
            this.#logger.error({ err, subject }, "subscription error");
            return;
          }
          const decoded = decodeMessage(msg.subject, msg.data, filter);
          if (decoded.kind === "filtered") return;
          if (decoded.kind === "malformed") {
            this.#metrics.malformed++;
            void this.#deadLetter(
              {
                subject: msg.subject,
                data: msg.data,
                reason: "MALFORMED",
                error: decoded.error,
                attempts: 0,
              },
              undefined,
            );
            return;
          }
          if (!queue.push(decoded.delivery)) this.#dropped(msg.subject, queue.capacity);
        },
      }),
    );
    await nc.flush(); // the server has the subscriptions once this returns
    worker.start();
    return {
      stop: async () => {
        for (const s of subs) s.unsubscribe();
        await worker.finish();
      },
    };
  }

  #dropped(subject: string, capacity: number): void {
    this.#metrics.dropped++;
    const now = Date.now();
    if (now - this.#lastDropLog > 5000) {
      this.#lastDropLog = now;
      this.#logger.warn(
        { subject, capacity, dropped_total: this.#metrics.dropped },
        "subscriber too slow: its queue is full, events dropped (use a durable subscription to lose nothing)",
      );
    }
  }

  #durableContext(): DurableSubscriptionContext {
    const o = this.#options;
    return {
      nc: this.#nc!,
      logger: this.#logger,
      metrics: this.#metrics,
      policy: this.#policy,
      deadLetters: { hub: this.#deadLetters, send: this.#sendDeadLetter },
      ...(o.ackWaitMs === undefined ? {} : { ackWaitMs: o.ackWaitMs }),
      ...(o.maxAckPending === undefined ? {} : { maxAckPending: o.maxAckPending }),
      ...(o.pullBatch === undefined ? {} : { pullBatch: o.pullBatch }),
      ...(o.pullExpiresMs === undefined ? {} : { pullExpiresMs: o.pullExpiresMs }),
      ...(o.durableStart === undefined ? {} : { durableStart: o.durableStart }),
    };
  }

  readonly #sendDeadLetter = (subject: string, data: Uint8Array, msgId: string | undefined) =>
    this.#publisher!.send(subject, data, msgId);

  /** Publishes the original bytes on `deadletter.<subject>` and an `error` event; resolves once both are stored. */
  async #deadLetter(letter: DeadLetter, msgId: string | undefined): Promise<void> {
    try {
      await publishDeadLetter(this.#deadLetters, this.#sendDeadLetter, letter, msgId);
    } catch (err) {
      this.#metrics.dropped++;
      this.#logger.error({ err, subject: letter.subject }, "could not publish a dead letter");
    }
  }

  onDeadLetter(listener: (letter: DeadLetter) => void): () => void {
    return this.#deadLetters.add(listener);
  }

  metrics(): Readonly<BusMetrics> {
    return { ...this.#metrics };
  }

  isReady(): boolean {
    return this.#publisher !== null && this.#connected && !this.#closed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#init;
    } catch {
      return;
    }
    const subs = [...this.#subscriptions];
    this.#subscriptions.clear();
    await Promise.all(subs.map((s) => s.stop()));
    await this.#publisher!.close(this.#options.closeTimeoutMs ?? 10_000);
    if (!this.#options.connection) await this.#nc!.drain();
  }
}
