import { hostname } from "node:os";
import {
  type EventFilter,
  type NormalizedFilter,
  type StandardEvent,
  encodeEvent,
  subjectFor,
  subjectsForFilter,
} from "@market-scraper/events";
import { Redis, type RedisOptions } from "ioredis";
import { backoffDelay } from "./backoff.js";
import { BoundedQueue } from "./bounded-queue.js";
import { createBusMetrics } from "./bus-metrics.js";
import { DeadLetterHub } from "./dead-letters.js";
import { decodeMessage } from "./decode-message.js";
import { type ActiveSubscription, normalizeBusFilter, subscriptionHandle } from "./subscription-handle.js";
import { type Delivery, QueueWorker, runWithRetries } from "./delivery-worker.js";
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
import { type RetryOptions, type RetryPolicy, retryPolicy, sleep } from "./retry-policy.js";

export interface RedisEventBusOptions extends RetryOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** Prefix of every key and channel this bus uses, so several systems can share a server. */
  channel: string;
  redisOptions?: RedisOptions;
  source?: string;
  logger?: BusLogger;
  /** Approximate cap on the event stream's length (`XADD MAXLEN ~`). Default 1,000,000. */
  streamMaxLen?: number;
  /** Publishes not yet acknowledged by Redis before `publish` waits. Default 10,000. */
  maxPendingPublishes?: number;
  /** Events a plain subscription may buffer before dropping (counted). Default 10,000. */
  subscriptionQueueSize?: number;
  /** Entries read per `XREADGROUP`. Default 32. */
  readCount?: number;
  /** Pending entries idle this long (their reader died) are claimed by another member. Default 30 s. */
  ackWaitMs?: number;
  /** Where a new durable starts: the whole stream (`all`, default) or new entries. Groups start at new. */
  durableStart?: "all" | "new";
  /** Randomness of the reconnect backoff's jitter (`backoffDelay`); default `Math.random`. */
  random?: () => number;
}

/** A failed stream read is retried after 250 ms doubling up to 5 s, jittered (`backoffDelay`). */
export const STREAM_READ_BACKOFF = { initialMs: 250, maxMs: 5_000 } as const;

/** Reconnects to Redis: 100 ms doubling up to 2 s, jittered (`backoffDelay`). */
export const REDIS_RECONNECT_BACKOFF = { initialMs: 100, maxMs: 2_000 } as const;

type StreamEntry = [id: Buffer, fields: Buffer[]];
type XReadReply = [key: Buffer, entries: StreamEntry[]][] | null;

/** A NATS subject pattern as a Redis glob (`*`/`>` → `*`, glob characters in literal tokens escaped). */
function toGlob(pattern: string): string {
  return pattern
    .split(".")
    .map((t) => (t === "*" || t === ">" ? "*" : t.replace(/[\\?*[\]]/g, "\\$&")))
    .join(".");
}

function field(fields: Buffer[], name: string): Buffer | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === name) return fields[i + 1];
  return undefined;
}

const RESOLVED = Promise.resolve();

/**
 * The Redis bus: plain subscriptions use pub/sub (`PSUBSCRIBE <channel>:<subject pattern>`); every
 * event is also appended to the stream `<channel>:events`, read by consumer groups for `group` and
 * `durable` subscriptions (at-least-once: entries are acknowledged after the handler succeeds).
 */
export class RedisEventBus implements EventBus {
  readonly #options: RedisEventBusOptions;
  readonly #metrics = createBusMetrics();
  readonly #logger: BusLogger;
  readonly #policy: RetryPolicy;
  readonly #deadLetters: DeadLetterHub;
  readonly #subscriptions = new Set<ActiveSubscription>();
  readonly #commands: Redis;
  #subscriber: Redis | null = null;
  readonly #patternHandlers = new Map<string, Set<(subject: string, data: Buffer) => void>>();
  readonly #streamKey: string;
  readonly #deadLetterKey: string;
  readonly #consumerBase = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  #pendingPublishes = 0;
  #publishWaiters: (() => void)[] = [];
  #closed = false;
  #lastDropLog = 0;

  constructor(options: RedisEventBusOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#policy = retryPolicy(options);
    this.#deadLetters = new DeadLetterHub(this.#logger, this.#metrics, options.source ?? "event-bus");
    this.#streamKey = `${options.channel}:events`;
    this.#deadLetterKey = `${options.channel}:deadletter`;
    this.#commands = this.#connect("commands");
  }

  #connect(role: string): Redis {
    const options: RedisOptions = {
      maxRetriesPerRequest: null, // commands wait through reconnects instead of failing
      enableAutoPipelining: true,
      retryStrategy: (times: number) => backoffDelay(times, REDIS_RECONNECT_BACKOFF, this.#options.random),
      connectionName: `${this.#options.channel}-${role}`,
      ...this.#options.redisOptions,
    };
    const redis = new Redis(this.#options.url, options as never);
    redis.on("error", (err: Error) => this.#logger.warn({ err, role }, "Redis connection error"));
    redis.on("reconnecting", (retryInMs: number) =>
      this.#logger.debug({ role, retryInMs }, "reconnecting to Redis"),
    );
    return redis;
  }

  #key(subject: string): string {
    return `${this.#options.channel}:${subject}`;
  }

  publish(event: StandardEvent): Promise<void> {
    if (this.#closed) return Promise.reject(new BusError("BUS_CLOSED", "publish on a closed bus"));
    let subject: string;
    try {
      subject = subjectFor(event);
    } catch (cause) {
      return Promise.reject(new BusError("INVALID_SUBJECT", errorMessage(cause), { cause }));
    }
    this.#metrics.published++;
    return this.#send(subject, encodeEvent(event));
  }

  async publishRaw(subject: string, data: Uint8Array): Promise<void> {
    if (this.#closed) throw new BusError("BUS_CLOSED", "publish on a closed bus");
    this.#metrics.published++;
    await this.#send(subject, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Appends to the stream and publishes; bounded by `maxPendingPublishes` unacknowledged commands. */
  #send(subject: string, data: Buffer): Promise<void> {
    const limit = this.#options.maxPendingPublishes ?? 10_000;
    if (this.#pendingPublishes >= limit) {
      return new Promise<void>((resolve) => this.#publishWaiters.push(resolve)).then(() =>
        this.#send(subject, data),
      );
    }
    this.#pendingPublishes++;
    const maxLen = this.#options.streamMaxLen ?? 1_000_000;
    const done = Promise.all([
      this.#commands.xadd(this.#streamKey, "MAXLEN", "~", maxLen, "*", "s", subject, "d", data),
      this.#commands.publish(this.#key(subject), data),
    ]).then(
      () => this.#sent(),
      (err: unknown) => {
        this.#sent();
        this.#metrics.dropped++;
        this.#logger.error({ err, subject }, "publish failed");
        throw new BusError("PUBLISH_FAILED", `publish to ${subject} failed: ${errorMessage(err)}`, {
          cause: err,
        });
      },
    );
    // Callers that do not await still see failures in the log and metrics, not as unhandled rejections.
    done.catch(() => undefined);
    return this.#pendingPublishes < limit ? RESOLVED.then(() => undefined) : done;
  }

  #sent(): void {
    this.#pendingPublishes--;
    const waiter = this.#publishWaiters.shift();
    waiter?.();
    if (this.#pendingPublishes === 0) for (const w of this.#publishWaiters.splice(0)) w();
  }

  async flush(): Promise<void> {
    while (this.#pendingPublishes > 0) await new Promise<void>((r) => this.#publishWaiters.push(r));
  }

  async subscribe(
    filter: EventFilter,
    handler: EventHandler,
    options: SubscribeOptions = {},
  ): Promise<Subscription> {
    if (this.#closed) throw new BusError("BUS_CLOSED", "subscribe on a closed bus");
    const normalized = normalizeBusFilter(filter);
    const active =
      options.durable !== undefined
        ? await this.#subscribeGroup(
            normalized,
            handler,
            `durable-${options.durable}`,
            this.#options.durableStart === "new" ? "$" : "0",
          )
        : options.group !== undefined
          ? await this.#subscribeGroup(normalized, handler, `group-${options.group}`, "$")
          : await this.#subscribePlain(normalized, handler);
    return subscriptionHandle(active, this.#subscriptions, filter, options);
  }

  #giveUp(delivery: Delivery, err: unknown, attempts: number): Promise<void> {
    return this.#deadLetter({
      subject: delivery.subject,
      data: encodeEvent(delivery.event),
      reason: "HANDLER_FAILED",
      error: errorMessage(err),
      attempts,
      event_id: delivery.event.event_id,
    });
  }

  async #ensureSubscriber(): Promise<Redis> {
    if (this.#subscriber) return this.#subscriber;
    const sub = this.#connect("subscriber");
    sub.on("pmessageBuffer", (pattern: Buffer, channel: Buffer, message: Buffer) => {
      const handlers = this.#patternHandlers.get(pattern.toString());
      if (!handlers) return;
      const subject = channel.toString().slice(this.#options.channel.length + 1);
      for (const h of handlers) h(subject, message);
    });
    this.#subscriber = sub;
    return sub;
  }

  async #subscribePlain(filter: NormalizedFilter, handler: EventHandler): Promise<ActiveSubscription> {
    const sub = await this.#ensureSubscriber();
    const queue = new BoundedQueue<Delivery>(this.#options.subscriptionQueueSize ?? 10_000);
    const worker = new QueueWorker(queue, handler, this.#policy, this.#metrics, (d, err, attempts) => {
      void this.#giveUp(d, err, attempts);
    });
    const receive = (subject: string, data: Buffer) => {
      const decoded = decodeMessage(subject, data, filter);
      if (decoded.kind === "filtered") return;
      if (decoded.kind === "malformed") {
        this.#metrics.malformed++;
        void this.#deadLetter({ subject, data, reason: "MALFORMED", error: decoded.error, attempts: 0 });
        return;
      }
      if (!queue.push(decoded.delivery)) this.#dropped(subject, queue.capacity);
    };
    const patterns = subjectsForFilter(filter).map((p) => this.#key(toGlob(p)));
    const fresh: string[] = [];
    for (const pattern of patterns) {
      let set = this.#patternHandlers.get(pattern);
      if (!set) {
        set = new Set();
        this.#patternHandlers.set(pattern, set);
        fresh.push(pattern);
      }
      set.add(receive);
    }
    if (fresh.length > 0) await sub.psubscribe(...fresh);
    worker.start();
    return {
      stop: async () => {
        const gone: string[] = [];
        for (const pattern of patterns) {
          const set = this.#patternHandlers.get(pattern);
          set?.delete(receive);
          if (set?.size === 0) {
            this.#patternHandlers.delete(pattern);
            gone.push(pattern);
          }
        }
        if (gone.length > 0) await sub.punsubscribe(...gone).catch(() => undefined);
        await worker.finish();
      },
    };
  }

  #dropped(subject: string, capacity: number): void {
    this.#metrics.dropped++;
    const now = Date.now();
    if (now - this.#lastDropLog > 5000) {
      this.#lastDropLog = now;
      this.#logger.warn({ subject, capacity }, "subscriber too slow: its queue is full, events dropped");
    }
  }

  async #subscribeGroup(
    filter: NormalizedFilter,
    handler: EventHandler,
    group: string,
    startId: "0" | "$",
  ): Promise<ActiveSubscription> {
    const key = this.#streamKey;
    try {
      await this.#commands.xgroup("CREATE", key, group, startId, "MKSTREAM");
    } catch (err) {
      if (!errorMessage(err).includes("BUSYGROUP")) throw err;
    }
    const consumer = `${this.#consumerBase}-${group}`;
    const reader = this.#connect(`reader-${group}`);
    const state = { stopped: false };
    const ackWaitMs = this.#options.ackWaitMs ?? 30_000;
    const count = this.#options.readCount ?? 32;

    const handleEntry = async (entry: StreamEntry, failedBefore: number) => {
      const [id, fields] = entry;
      const subject = field(fields, "s")?.toString() ?? "";
      const data = field(fields, "d") ?? Buffer.alloc(0);
      const decoded = decodeMessage(subject, data, filter);
      if (decoded.kind === "malformed") {
        this.#metrics.malformed++;
        await this.#deadLetter({
          subject,
          data,
          reason: "MALFORMED",
          error: decoded.error,
          attempts: failedBefore,
        });
      } else if (decoded.kind === "event") {
        await runWithRetries(
          handler,
          decoded.delivery,
          this.#policy,
          this.#metrics,
          (d, err, attempts) => void this.#giveUp(d, err, attempts),
          failedBefore,
        );
      }
      await this.#commands.xack(key, group, id);
    };

    // Entries delivered to a member that died are claimed once idle for longer than ackWaitMs.
    const reclaim = async () => {
      const pending = (await this.#commands.xpending(key, group, "IDLE", ackWaitMs, "-", "+", count)) as [
        string,
        string,
        number,
        number,
      ][];
      if (pending.length === 0) return;
      const deliveries = new Map(pending.map(([id, , , n]) => [id, n]));
      const claimed = (await this.#commands.callBuffer(
        "XCLAIM",
        key,
        group,
        consumer,
        ackWaitMs,
        ...pending.map(([id]) => id),
      )) as StreamEntry[];
      for (const entry of claimed) {
        if (!entry?.[1]) continue;
        await handleEntry(entry, deliveries.get(entry[0].toString()) ?? 1);
      }
    };

    const loop = (async () => {
      let lastReclaim = 0;
      let failures = 0;
      while (!state.stopped) {
        try {
          if (Date.now() - lastReclaim > Math.min(ackWaitMs, 5000)) {
            lastReclaim = Date.now();
            await reclaim();
          }
          const reply = (await reader.xreadgroupBuffer(
            "GROUP",
            group,
            consumer,
            "COUNT",
            count,
            "BLOCK",
            250,
            "STREAMS",
            key,
            ">",
          )) as XReadReply;
          for (const [, entries] of reply ?? []) for (const entry of entries) await handleEntry(entry, 0);
          failures = 0;
        } catch (err) {
          if (state.stopped) break;
          const retryInMs = backoffDelay(++failures, STREAM_READ_BACKOFF, this.#options.random);
          this.#logger.warn({ err, group, retryInMs }, "stream read failed; retrying");
          await sleep(retryInMs);
        }
      }
    })();

    return {
      stop: async () => {
        state.stopped = true;
        await loop;
        reader.disconnect();
      },
    };
  }

  async #deadLetter(letter: DeadLetter): Promise<void> {
    const { subject: dlSubject, report } = this.#deadLetters.record(letter);
    const data = Buffer.from(letter.data.buffer, letter.data.byteOffset, letter.data.byteLength);
    try {
      await this.#commands.xadd(
        this.#deadLetterKey,
        "MAXLEN",
        "~",
        100_000,
        "*",
        "s",
        dlSubject,
        "d",
        data,
        "reason",
        letter.reason,
        "error",
        letter.error,
      );
      await this.#commands.publish(this.#key(dlSubject), data);
      if (report !== null && !this.#closed) {
        this.#metrics.published++;
        await this.#send(subjectFor(report), encodeEvent(report));
      }
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
    return !this.#closed && this.#commands.status === "ready";
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const subs = [...this.#subscriptions];
    this.#subscriptions.clear();
    await Promise.all(subs.map((s) => s.stop()));
    await this.flush();
    await Promise.all([
      this.#commands.quit().catch(() => undefined),
      this.#subscriber?.quit().catch(() => undefined),
    ]);
  }
}
