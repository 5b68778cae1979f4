import {
  type EventFilter,
  type NormalizedFilter,
  type StandardEvent,
  encodeEvent,
  isStage,
  subjectFor,
  subjectMatchesPattern,
  subjectsForFilter,
} from "@market-scraper/events";
import {
  AckPolicy,
  type Consumer,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import {
  type ConnectionOptions,
  type NatsConnection,
  PermissionViolationError,
  type Subscription as NatsSubscription,
  connect,
  nanos,
} from "@nats-io/transport-node";
import { BoundedQueue } from "./bounded-queue.js";
import { createBusMetrics } from "./bus-metrics.js";
import { DeadLetterHub } from "./dead-letters.js";
import { decodeMessage } from "./decode-message.js";
import { type ActiveSubscription, normalizeBusFilter, subscriptionHandle } from "./subscription-handle.js";
import { type Delivery, QueueWorker } from "./delivery-worker.js";
import { BusError, errorMessage } from "./errors.js";
import type {
  BusMetrics,
  DeadLetter,
  EventBus,
  EventHandler,
  SubscribeOptions,
  Subscription,
} from "./event-bus.js";
import {
  STREAM_OF_STAGE,
  type StreamName,
  type StreamSettings,
  ensureStreams,
  whenStreamExists,
} from "./jetstream-streams.js";
import { type BusLogger, silentLogger } from "./logger.js";
import { NatsPublisher } from "./nats-publisher.js";
import { type RetryOptions, type RetryPolicy, retryPolicy, sleep } from "./retry-policy.js";

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

interface DurableFilter {
  readonly filter: NormalizedFilter;
  /** The subjects of the subscription; the consumers may read more. */
  readonly patterns: readonly string[];
}

const DURABLE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Stable id per stored message and consumer, so a repeated dead letter is dropped by the server. */
function letterIdOf(msg: JsMsg, durable: string): string {
  return `dl-${msg.info.stream}-${msg.seq}-${durable}`;
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
  #js: JetStreamClient | null = null;
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
    this.#js = jetstream(nc);
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
        ? await this.#subscribeDurable(normalized, handler, options.durable)
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

  async #subscribeDurable(filter: NormalizedFilter, handler: EventHandler, durable: string) {
    if (!DURABLE_NAME.test(durable)) {
      throw new BusError("INVALID_FILTER", `durable name '${durable}' must match ${DURABLE_NAME.source}`);
    }
    const byStream = new Map<StreamName, string[]>();
    for (const subject of subjectsForFilter(filter)) {
      const stage = subject.slice(0, subject.indexOf("."));
      if (!isStage(stage)) continue;
      const stream = STREAM_OF_STAGE[stage];
      byStream.set(stream, [...(byStream.get(stream) ?? []), subject]);
    }
    const maxAckPending = this.#options.maxAckPending ?? 1000;
    const batch = Math.max(1, Math.min(maxAckPending, this.#options.pullBatch ?? 256));
    const queue = new BoundedQueue<JsMsg>(batch * byStream.size);
    const state = { stopped: false };
    const pulls: Promise<void>[] = [];
    for (const [stream, subjects] of byStream) {
      // Server 2.9 takes one filter subject; several means the whole stream, filtered here.
      const filterSubject = subjects.length === 1 ? subjects[0] : undefined;
      await whenStreamExists(
        stream,
        () => this.#ensureConsumer(stream, durable, filterSubject, maxAckPending),
        { logger: this.#logger, stopped: () => this.#closed },
      );
      pulls.push(this.#pullLoop(stream, durable, filterSubject, maxAckPending, batch, queue, state));
    }
    const patterns = [...byStream.values()].flat();
    const loop = this.#durableLoop(queue, state, { filter, patterns }, handler, durable);
    return {
      stop: async () => {
        state.stopped = true;
        queue.wake();
        // Each pull ends within its expiry; messages still arriving meanwhile are handed back (nak).
        await Promise.all(pulls);
        await loop;
        for (const msg of queue.drain()) msg.nak();
      },
    };
  }

  /**
   * Pulls batches with `fetch` rather than `consume`: a fetch keeps its inbox until the server ends the
   * request, so stopping never leaves a pull request open on the server that would swallow messages
   * until `ack_wait` (which `consume().close()` does).
   */
  async #pullLoop(
    stream: StreamName,
    durable: string,
    filterSubject: string | undefined,
    maxAckPending: number,
    batch: number,
    queue: BoundedQueue<JsMsg>,
    state: { stopped: boolean },
  ): Promise<void> {
    const expires = this.#options.pullExpiresMs ?? 1000;
    let consumer: Consumer | null = null;
    while (!state.stopped) {
      try {
        // Looked up once (an API request), again only after an error.
        consumer ??= await this.#js!.consumers.get(stream, durable);
        const messages = await consumer.fetch({ max_messages: batch, expires });
        for await (const msg of messages) {
          if (state.stopped) {
            msg.nak();
            continue;
          }
          let queued = queue.push(msg);
          while (!queued && !state.stopped) {
            await queue.waitForSpace();
            queued = queue.push(msg);
          }
          if (!queued) msg.nak();
        }
      } catch (err) {
        consumer = null;
        if (state.stopped) break;
        this.#logger.warn({ err, stream, durable }, "pull failed; retrying");
        await sleep(500);
        // The consumer may have been deleted (or the server may have lost it): put it back.
        await this.#ensureConsumer(stream, durable, filterSubject, maxAckPending).catch((e: unknown) =>
          this.#logger.error({ err: e, stream, durable }, "could not recreate the durable consumer"),
        );
      }
    }
  }

  async #ensureConsumer(
    stream: StreamName,
    durable: string,
    filterSubject: string | undefined,
    maxAckPending: number,
  ) {
    const jsm = await this.#manager();
    const existing = await jsm.consumers.info(stream, durable).catch(() => null);
    if (existing) {
      const current = existing.config.filter_subject || undefined;
      if (current !== filterSubject) {
        throw new BusError(
          "INVALID_FILTER",
          `durable '${durable}' on ${stream} filters '${current ?? "(all)"}', not '${filterSubject ?? "(all)"}': ` +
            "a durable keeps its filter; delete the consumer or use a new name",
        );
      }
      return;
    }
    try {
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: this.#options.durableStart === "new" ? DeliverPolicy.New : DeliverPolicy.All,
        ack_wait: nanos(this.#options.ackWaitMs ?? 30_000),
        max_ack_pending: maxAckPending,
        max_deliver: -1, // dead-lettering is ours, so it can publish the message and an error event
        ...(filterSubject === undefined ? {} : { filter_subject: filterSubject }),
      });
    } catch (err) {
      if ((await jsm.consumers.info(stream, durable).catch(() => null)) === null) throw err;
    }
  }

  async #durableLoop(
    queue: BoundedQueue<JsMsg>,
    state: { stopped: boolean },
    filter: DurableFilter,
    handler: EventHandler,
    durable: string,
  ): Promise<void> {
    while (!state.stopped) {
      const msg = queue.shift();
      if (msg === undefined) {
        await queue.waitForItem();
        continue;
      }
      const pending = this.#handleDurable(msg, filter, handler, durable);
      if (pending !== undefined) await pending;
    }
  }

  /**
   * Handles one durable message; returns a promise only when something must be awaited (an async
   * handler, a failure, a dead letter), so the common case costs no extra promise per message.
   */
  #handleDurable(
    msg: JsMsg,
    filter: DurableFilter,
    handler: EventHandler,
    durable: string,
  ): Promise<void> | undefined {
    // A consumer reading a whole stream also sees subjects outside the subscription (e.g. deadletter.>).
    if (!filter.patterns.some((p) => subjectMatchesPattern(msg.subject, p))) {
      msg.ack();
      return undefined;
    }
    const decoded = decodeMessage(msg.subject, msg.data, filter.filter);
    if (decoded.kind === "filtered") {
      msg.ack();
      return undefined;
    }
    if (decoded.kind === "malformed") {
      this.#metrics.malformed++;
      const letter: DeadLetter = {
        subject: msg.subject,
        data: msg.data,
        reason: "MALFORMED",
        error: decoded.error,
        attempts: msg.info.deliveryCount,
      };
      return this.#deadLetter(letter, letterIdOf(msg, durable)).then(() => msg.term());
    }
    const { event } = decoded.delivery;
    let result: void | Promise<void>;
    try {
      result = handler(event);
    } catch (err) {
      return this.#durableFailed(msg, event, err, durable);
    }
    if (result === undefined) {
      this.#metrics.delivered++;
      msg.ack();
      return undefined;
    }
    return result.then(
      () => {
        this.#metrics.delivered++;
        msg.ack();
      },
      (err: unknown) => this.#durableFailed(msg, event, err, durable),
    );
  }

  /** A failed delivery: redelivered after the retry delay, or dead-lettered after `maxDeliver` tries. */
  async #durableFailed(msg: JsMsg, event: StandardEvent, err: unknown, durable: string): Promise<void> {
    this.#metrics.failed++;
    const attempts = msg.info.deliveryCount;
    if (attempts < this.#policy.maxDeliver) {
      msg.nak(this.#policy.delayMs(attempts));
      return;
    }
    await this.#deadLetter(
      {
        subject: msg.subject,
        data: msg.data,
        reason: "HANDLER_FAILED",
        error: errorMessage(err),
        attempts,
        event_id: event.event_id,
      },
      letterIdOf(msg, durable),
    );
    msg.term();
  }

  /** Publishes the original bytes on `deadletter.<subject>` and an `error` event; resolves once both are stored. */
  async #deadLetter(letter: DeadLetter, msgId: string | undefined): Promise<void> {
    const { subject: dlSubject, report } = this.#deadLetters.record(letter);
    const publisher = this.#publisher!;
    const sends = [publisher.send(dlSubject, letter.data, msgId)];
    if (report !== null) {
      this.#metrics.published++;
      const reportId = msgId === undefined ? report.event_id : `${msgId}-error`;
      sends.push(publisher.send(subjectFor(report), encodeEvent(report), reportId));
    }
    try {
      await Promise.all(sends);
    } catch (err) {
      this.#metrics.dropped++;
      this.#logger.error({ err, subject: dlSubject }, "could not publish a dead letter");
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
