import { subjectMatchesPattern } from "@market-scraper/events";
import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  type ConsumerInfo,
  type ConsumerMessages,
  type ConsumerUpdateConfig,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/transport-node";
import { type BackoffOptions, backoffDelay } from "./backoff.js";
import { BoundedQueue } from "./bounded-queue.js";
import { type DeadLetterHub, type DeadLetterSend, publishDeadLetter } from "./dead-letters.js";
import { BusError, errorMessage } from "./errors.js";
import type { DeadLetter } from "./event-bus.js";
import { whenStreamExists } from "./jetstream-streams.js";
import { type BusLogger, silentLogger } from "./logger.js";
import { NatsLink } from "./nats-link.js";

export interface DurableConsumerOptions {
  nc: NatsConnection;
  /** The stream read (see `STAGE_STREAMS`). */
  stream: string;
  /** The durable's name: every process using it shares its messages. */
  name: string;
  /** Subjects of the stream to deliver (at least one). */
  subjects: readonly string[];
  /** Time to ack (or `working()`) before the server redelivers. Default 30 s. */
  ackWaitMs?: number;
  /** Unacknowledged messages the server lets out at once. Default 1,000. */
  maxAckPending?: number;
  /** Messages per pull request. Default 256 (at most `maxHeld`). */
  batch?: number;
  /**
   * Messages held at once (received and not yet acked, nak'ed or terminated, pull requests in flight
   * included). Default `min(maxAckPending, 2 × batch)`: one batch handled while the next one arrives.
   */
  maxHeld?: number;
  /** How long one pull request waits for messages (≥ 1000 ms). Default 1000 ms. */
  pullExpiresMs?: number;
  /** Where a new durable starts: the whole stream (`all`, default) or new messages. */
  deliver?: "all" | "new";
  /** Waits between failed pulls (`backoffDelay`). Default 250 ms doubling to 5 s. */
  backoff?: BackoffOptions;
  /**
   * Run before the consumer is ensured again after a failed pull: a restarted server may have lost the
   * stream too (e.g. `ensureStreams` for the streams this process owns).
   */
  ensureStream?: () => Promise<void>;
  /**
   * Ordered reading from a position the caller keeps (the processor's checkpointed partitions). The
   * consumer is then this process's own (give it a unique `name`; `inactiveThresholdMs`, default 5 min,
   * lets the server remove it after a crash) and is created afresh at `startSequence()` at start, after a
   * reconnect or a failed pull, on a gap in its delivery sequence, and on `restart()`: messages arrive in
   * stream order, and what was queued from the consumer it replaces is dropped (the new one delivers it
   * again). One pull loop, so two requests never interleave. `onOpen` is called after each creation.
   */
  from?: { startSequence: () => number; inactiveThresholdMs?: number; onOpen?: () => void };
  /** Told of every failed pull (before the backoff and the consumer's repair): e.g. for readiness. */
  onPullFailed?: (err: unknown) => void;
  /**
   * Where `deadLetter` records (`hub`) and sends (`send`; default a JetStream publish on `nc` with the
   * message id). Without it `deadLetter` throws.
   */
  deadLetters?: { hub: DeadLetterHub; send?: DeadLetterSend };
  logger?: BusLogger;
  /** Injected for exact tests of the backoff. */
  random?: () => number;
}

/** How the server filters for us: JetStream 2.10 takes several subjects, 2.9 one. */
export type FilterMode = "server" | "client";

/** `major.minor.patch` of a server version string such as `2.10.24` or `v2.9.10-beta`. */
export function parseServerVersion(version: string | undefined): [number, number, number] {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(version ?? "");
  return m === null ? [0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Whether the server takes `filter_subjects` (several filters on one consumer): 2.10 and later. */
export function supportsMultiFilter(version: string | undefined): boolean {
  const [major, minor] = parseServerVersion(version);
  return major > 2 || (major === 2 && minor >= 10);
}

const DURABLE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The project's one JetStream durable pull consumer (bus durable subscriptions, storage ingest):
 *
 * - **Consumer**: created at `start()` (waiting for a stream another process owns), or updated when its
 *   `ack_wait`, `max_ack_pending` or filter differ. On a 2.10+ server several subjects are one
 *   `filter_subjects`; on 2.9 one subject is a `filter_subject`, several read the whole stream and the
 *   others are acked here, unseen. Dead-lettering is ours (`max_deliver: -1`).
 * - **Pulls**: two pull loops, each asking for at most the room left (`maxHeld` minus what is held and
 *   requested), so the next batch is on its way while the current one is handled. `fetch`, not
 *   `consume`: a fetch ends with its request, so stopping never leaves a request open on the server
 *   that would take messages until `ack_wait`.
 * - **Keep-alive**: every message is held from receipt until `ack`/`nak`/`term`, and `working()` is sent
 *   for all held messages every `ackWaitMs / 3` — while queued, while handled, while its handler waits
 *   for a full publish queue — so a slow moment never turns into a redelivery or an early dead letter.
 * - **Recovery**: a failed pull waits (`backoffDelay`) and ensures the consumer again (a restarted server
 *   may have lost it); a dropped connection ends the pulls at once and they resume at the reconnect,
 *   rather than after the client's missed heartbeats.
 */
export class DurableConsumer {
  readonly stream: string;
  readonly name: string;
  readonly subjects: readonly string[];
  readonly #o: DurableConsumerOptions;
  readonly #log: BusLogger;
  readonly #ackWaitMs: number;
  readonly #maxAckPending: number;
  readonly #batch: number;
  readonly #maxHeld: number;
  readonly #queue: BoundedQueue<JsMsg>;
  readonly #held = new Set<JsMsg>();
  readonly #fetches = new Set<ConsumerMessages>();
  #filterMode: FilterMode = "server";
  #requested = 0;
  #js: JetStreamClient | null = null;
  #jsm: JetStreamManager | null = null;
  #consumer: Consumer | null = null;
  #link: NatsLink | null = null;
  #loops: Promise<void>[] = [];
  #keepAlive: NodeJS.Timeout | null = null;
  /** Pull loops waiting for room: woken when a held message is settled or they must look again. */
  readonly #roomWaiters = new Set<() => void>();
  #stopping = false;
  /** Ordered mode: bumped at every creation; fetches of an older one deliver nothing more. */
  #generation = 0;
  #lastDelivery = 0;
  #needsReset = false;

  constructor(options: DurableConsumerOptions) {
    if (!DURABLE_NAME.test(options.name)) {
      throw new BusError(
        "INVALID_FILTER",
        `durable name '${options.name}' must match ${DURABLE_NAME.source}`,
      );
    }
    if (options.subjects.length === 0) {
      throw new BusError("INVALID_FILTER", `durable '${options.name}' needs at least one subject`);
    }
    this.#o = options;
    this.stream = options.stream;
    this.name = options.name;
    this.subjects = [...options.subjects];
    this.#log = options.logger ?? silentLogger;
    this.#ackWaitMs = options.ackWaitMs ?? 30_000;
    this.#maxAckPending = options.maxAckPending ?? 1000;
    this.#maxHeld = Math.max(1, options.maxHeld ?? Math.min(this.#maxAckPending, 2 * (options.batch ?? 256)));
    this.#batch = Math.max(1, Math.min(this.#maxHeld, options.batch ?? 256));
    this.#queue = new BoundedQueue<JsMsg>(this.#maxHeld);
  }

  /** `server`: the server delivers only `subjects`; `client`: the whole stream, filtered here (2.9). */
  get filterMode(): FilterMode {
    return this.#filterMode;
  }

  /** Messages received and not yet settled (queued or in the caller's hands). */
  get held(): number {
    return this.#held.size;
  }

  /** Messages received and not yet taken with `shift`. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Creates or updates the consumer (waiting for its stream), then starts pulling. */
  async start(): Promise<void> {
    const nc = this.#o.nc;
    this.#js = jetstream(nc);
    this.#jsm = await jetstreamManager(nc);
    this.#filterMode =
      this.subjects.length === 1 || supportsMultiFilter(nc.info?.version) ? "server" : "client";
    await whenStreamExists(this.stream, () => this.#ensureConsumer(), {
      logger: this.#log,
      stopped: () => this.#stopping,
    });
    this.#link = new NatsLink(nc, {
      onDisconnect: () => {
        // The pulls in flight can deliver nothing more: end them now, pull again at the reconnect.
        // Ordered, what was on its way is lost: a new consumer resumes at `startSequence()`.
        if (this.#o.from !== undefined) this.#needsReset = true;
        for (const fetch of this.#fetches) fetch.stop();
      },
      onReconnect: () => this.#wakePulls(),
    });
    const every = Math.max(50, Math.floor(this.#ackWaitMs / 3));
    this.#keepAlive = setInterval(() => this.#keepHeldAlive(), every);
    this.#keepAlive.unref();
    this.#loops = this.#o.from === undefined ? [this.#pullLoop(), this.#pullLoop()] : [this.#pullLoop()];
  }

  /**
   * Ordered mode: drops what is queued and reads again from `startSequence()` with a new consumer (after
   * the caller rewound, or when it sees no progress).
   */
  restart(): void {
    if (this.#o.from === undefined)
      throw new BusError("INVALID_FILTER", "restart() is for ordered consumers");
    this.#needsReset = true;
    this.#dropQueued();
    for (const fetch of this.#fetches) fetch.stop();
    this.#wakePulls();
  }

  /** The next message received, or undefined when none is waiting. It stays held until settled. */
  shift(): JsMsg | undefined {
    return this.#queue.shift();
  }

  /** Resolves once a message may be waiting, or `wake()` was called. */
  waitForMessage(): Promise<void> {
    return this.#queue.waitForItem();
  }

  /** Wakes whoever waits in `waitForMessage` (so a loop can notice it should stop). */
  wake(): void {
    this.#queue.wake();
  }

  ack(msg: JsMsg): void {
    this.#settle(msg);
    msg.ack();
  }

  /** Hands the message back for redelivery, after `delayMs` when given. */
  nak(msg: JsMsg, delayMs?: number): void {
    this.#settle(msg);
    msg.nak(delayMs);
  }

  /** Never delivers the message again. */
  term(msg: JsMsg): void {
    this.#settle(msg);
    msg.term();
  }

  /**
   * Sends the message's original bytes to `deadletter.<subject>` with an `error` event (see
   * `DeadLetterHub`), then terminates it; resolves true. If NATS refuses the dead letter, the message is
   * nak'ed (it comes back after a backoff) and this resolves false. The dead letter's message id is
   * stable per stored message and consumer, so a repeated attempt is dropped by the server.
   */
  async deadLetter(msg: JsMsg, letter: Omit<DeadLetter, "subject" | "data" | "attempts">): Promise<boolean> {
    const sink = this.#o.deadLetters;
    if (sink === undefined)
      throw new BusError("PUBLISH_FAILED", `durable '${this.name}' has no dead-letter sink`);
    const full: DeadLetter = {
      ...letter,
      subject: msg.subject,
      data: msg.data,
      attempts: msg.info.deliveryCount,
    };
    try {
      const send = sink.send ?? this.#publish;
      await publishDeadLetter(sink.hub, send, full, `dl-${msg.info.stream}-${msg.seq}-${this.name}`);
    } catch (err) {
      this.#log.error(
        { err, subject: msg.subject, durable: this.name },
        "dead-lettering failed; message handed back",
      );
      this.nak(msg, backoffDelay(msg.info.deliveryCount, this.#o.backoff, this.#o.random));
      return false;
    }
    this.term(msg);
    return true;
  }

  readonly #publish: DeadLetterSend = async (subject, data, msgId) => {
    await this.#js!.publish(subject, data, msgId === undefined ? {} : { msgID: msgId });
  };

  /** The consumer's state on the server (e.g. `num_pending`, its lag). */
  info(): Promise<ConsumerInfo> {
    return this.#manager().consumers.info(this.stream, this.name);
  }

  /**
   * Stops asking for messages and resolves once the pulls in flight have ended (within
   * `pullExpiresMs`; at once for an ordered consumer). What they still deliver is queued as usual: the caller handles or `close`s it.
   */
  async stopPulling(): Promise<void> {
    this.#stopping = true;
    // An ordered consumer is ours alone: what its requests would still bring matters to nobody.
    if (this.#o.from !== undefined) for (const fetch of this.#fetches) fetch.stop();
    this.#wakePulls();
    await Promise.all(this.#loops);
  }

  /**
   * Stops pulling, hands every message still held back to the server (nak), and stops the keep-alive.
   * An ordered consumer, which is this process's own, is deleted.
   */
  async close(): Promise<void> {
    await this.stopPulling();
    if (this.#o.from !== undefined && this.#jsm !== null) {
      this.#dropQueued();
      this.#held.clear();
      await this.#jsm.consumers.delete(this.stream, this.name).catch(() => undefined);
    }
    this.#queue.drain(); // every queued message is also held: nak'ed below
    for (const msg of this.#held) msg.nak();
    this.#held.clear();
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#link?.stop();
    this.#queue.wake();
  }

  /** Ordered mode: forgets the queued messages of a consumer that is being replaced. */
  #dropQueued(): void {
    for (const msg of this.#queue.drain()) this.#held.delete(msg);
    this.#wakePulls();
  }

  #settle(msg: JsMsg): void {
    if (this.#held.delete(msg)) this.#wakePulls();
  }

  #keepHeldAlive(): void {
    if (this.#link?.up === false) return; // nothing can reach the server; it redelivers if this lasts
    for (const msg of this.#held) msg.working();
  }

  #wakePulls(): void {
    if (this.#roomWaiters.size === 0) return;
    const waiters = [...this.#roomWaiters];
    this.#roomWaiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves at the next `#wakePulls`, or after `timeoutMs`. */
  #waitForRoom(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#roomWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.#roomWaiters.add(wake);
    });
  }

  #manager(): JetStreamManager {
    if (this.#jsm === null) throw new BusError("BUS_CLOSED", `durable '${this.name}' is not started`);
    return this.#jsm;
  }

  /** The filter part of the consumer's configuration. */
  #filterConfig(): Pick<ConsumerUpdateConfig, "filter_subject" | "filter_subjects"> {
    if (this.subjects.length === 1) return { filter_subject: this.subjects[0]! };
    if (this.#filterMode === "server") return { filter_subjects: [...this.subjects] };
    return {};
  }

  /** Ordered mode: a new consumer at `startSequence()`, replacing the one before. */
  async #recreateConsumer(from: NonNullable<DurableConsumerOptions["from"]>): Promise<void> {
    const jsm = this.#manager();
    await jsm.consumers.delete(this.stream, this.name).catch(() => undefined);
    this.#generation++;
    this.#lastDelivery = 0;
    this.#dropQueued();
    await jsm.consumers.add(this.stream, {
      durable_name: this.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: Math.max(1, from.startSequence()),
      ack_wait: nanos(this.#ackWaitMs),
      max_ack_pending: this.#maxAckPending,
      max_deliver: -1,
      inactive_threshold: nanos(from.inactiveThresholdMs ?? 5 * 60_000),
      ...this.#filterConfig(),
    });
    this.#consumer = null;
    this.#needsReset = false;
    from.onOpen?.();
  }

  async #ensureConsumer(): Promise<void> {
    if (this.#o.from !== undefined) return this.#recreateConsumer(this.#o.from);
    const jsm = this.#manager();
    const filter = this.#filterConfig();
    const wanted: Partial<ConsumerUpdateConfig> = {
      ack_wait: nanos(this.#ackWaitMs),
      max_ack_pending: this.#maxAckPending,
      ...filter,
    };
    const existing = await jsm.consumers.info(this.stream, this.name).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return null;
      throw err;
    });
    if (existing === null) {
      const config: Partial<ConsumerConfig> = {
        durable_name: this.name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: this.#o.deliver === "new" ? DeliverPolicy.New : DeliverPolicy.All,
        max_deliver: -1, // dead-lettering is the caller's, so it can publish the message and an error event
        ...wanted,
      };
      try {
        await jsm.consumers.add(this.stream, config);
      } catch (err) {
        // Another replica may have created it at the same moment.
        if ((await jsm.consumers.info(this.stream, this.name).catch(() => null)) === null) throw err;
      }
      this.#consumer = null;
      return;
    }
    const c = existing.config;
    const sameFilter =
      (c.filter_subject ?? "") === (filter.filter_subject ?? "") &&
      [...(c.filter_subjects ?? [])].sort().join(" ") ===
        [...(filter.filter_subjects ?? [])].sort().join(" ");
    if (sameFilter && c.ack_wait === wanted.ack_wait && c.max_ack_pending === wanted.max_ack_pending) return;
    // A filter that is not set must be cleared explicitly: the update starts from the current config.
    // (`undefined` keys are dropped from the request's JSON).
    const update = {
      ...wanted,
      ...(filter.filter_subject === undefined ? { filter_subject: undefined } : {}),
      ...(filter.filter_subjects === undefined ? { filter_subjects: undefined } : {}),
    } as Partial<ConsumerUpdateConfig>;
    try {
      await jsm.consumers.update(this.stream, this.name, update);
    } catch (err) {
      throw new BusError(
        "INVALID_FILTER",
        `could not update durable '${this.name}' on ${this.stream} (filter ` +
          `'${c.filter_subjects?.join(",") ?? c.filter_subject ?? "(all)"}' → '${this.subjects.join(",")}'): ` +
          `${errorMessage(err)}; delete the consumer or use a new name`,
        { cause: err },
      );
    }
    this.#consumer = null;
    this.#log.info(
      {
        stream: this.stream,
        durable: this.name,
        ack_wait_ms: this.#ackWaitMs,
        max_ack_pending: this.#maxAckPending,
        subjects: this.subjects,
      },
      "durable consumer updated",
    );
  }

  /** One of the overlapping pull loops: asks for the room left, hands what arrives to the queue. */
  async #pullLoop(): Promise<void> {
    const expires = Math.max(1000, this.#o.pullExpiresMs ?? 1000);
    const backoff = this.#o.backoff ?? { initialMs: 250, maxMs: 5000 };
    let failures = 0;
    while (!this.#stopping) {
      if (this.#link?.up === false) {
        await this.#link.whenUp();
        continue;
      }
      if (this.#needsReset) {
        try {
          await this.#ensureConsumer();
        } catch (err) {
          const delay = backoffDelay(++failures, backoff, this.#o.random);
          this.#log.warn(
            { err, stream: this.stream, durable: this.name, retry_in_ms: delay },
            "could not open the consumer; retrying",
          );
          await this.#waitForRoom(delay);
        }
        continue;
      }
      const room = this.#maxHeld - this.#held.size - this.#requested;
      // Half a batch at least, so many small requests do not replace a few full ones.
      if (room < Math.ceil(this.#batch / 2)) {
        await this.#waitForRoom(expires);
        continue;
      }
      const want = Math.min(this.#batch, room);
      this.#requested += want;
      let received = 0;
      try {
        this.#consumer ??= await this.#js!.consumers.get(this.stream, this.name);
        const generation = this.#generation;
        const messages = await this.#consumer.fetch({ max_messages: want, expires });
        this.#fetches.add(messages);
        try {
          for await (const msg of messages) {
            received++;
            this.#requested--;
            if (generation === this.#generation) this.#receive(msg);
          }
        } finally {
          this.#fetches.delete(messages);
        }
        failures = 0;
      } catch (err) {
        this.#consumer = null;
        if (this.#stopping) break;
        this.#o.onPullFailed?.(err);
        failures++;
        const delay = backoffDelay(failures, backoff, this.#o.random);
        this.#log.warn(
          { err, stream: this.stream, durable: this.name, retry_in_ms: delay },
          "pull failed; retrying",
        );
        await this.#waitForRoom(delay);
        // A restarted (or new) server may have lost the consumer: put it back.
        if (this.#o.from !== undefined) {
          this.#needsReset = true;
          continue;
        }
        await (this.#o.ensureStream?.() ?? Promise.resolve())
          .then(() => this.#ensureConsumer())
          .catch((e: unknown) =>
            this.#log.warn(
              { err: e, stream: this.stream, durable: this.name },
              "could not ensure the durable consumer",
            ),
          );
      } finally {
        this.#requested -= want - received;
      }
    }
  }

  #receive(msg: JsMsg): void {
    if (this.#o.from !== undefined) {
      // Ordered: a gap (a message lost on its way, or a redelivery) means reading again from here.
      if (msg.info.deliverySequence !== this.#lastDelivery + 1 || this.#needsReset) {
        this.#needsReset = true;
        for (const fetch of this.#fetches) fetch.stop();
        return;
      }
      this.#lastDelivery = msg.info.deliverySequence;
    }
    // A 2.9 consumer on several subjects reads the whole stream: the others are not ours.
    if (this.#filterMode === "client" && !this.subjects.some((p) => subjectMatchesPattern(msg.subject, p))) {
      msg.ack();
      return;
    }
    this.#held.add(msg);
    this.#queue.push(msg); // never full: it holds at most `maxHeld`, as the pulls ask for no more
  }
}
