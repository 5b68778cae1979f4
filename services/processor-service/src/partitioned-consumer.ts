import {
  DurableConsumer,
  type EventBus,
  backoffDelay,
  NatsLink,
  STAGE_STREAMS,
  whenStreamExists,
} from "@market-scraper/bus";
import {
  EventType,
  type StandardEvent,
  StandardEvent as Events,
  decodeEvent,
  deadLetterSubject,
  parseSubject,
  subjectMatchesEvent,
} from "@market-scraper/events";
import { type JsMsg, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, nuid } from "@nats-io/transport-node";
import type { CheckpointStore } from "./checkpoint-store.js";
import { deterministicId } from "./deterministic-id.js";
import { type Partition, ownsKey, partitionName } from "./partition.js";
import { type Processor, type ProcessorLogger, errorMessage } from "./processor.js";

/** Delay before a partition that failed a message rewinds and reads again (`backoffDelay`). */
const REWIND_BACKOFF = { initialMs: 500, maxMs: 30_000 } as const;

const CONNECTION_DROPPED = "the NATS connection dropped";

export const MARKET_STREAM = STAGE_STREAMS.market;

export interface PartitionedConsumerOptions {
  nc: NatsConnection;
  bus: EventBus;
  processor: Processor;
  /** The event types to consume; default the processor's `eventTypes`. */
  eventTypes?: readonly EventType[];
  store: CheckpointStore;
  partition: Partition;
  logger: ProcessorLogger & { info(obj: object, msg?: string): void };
  /** Where a partition without a checkpoint starts: the whole stream (`all`) or its end (`new`). */
  start?: "all" | "new";
  /** Checkpoint at least this often while events flow (and within it once they stop). Default 1000 ms. */
  checkpointIntervalMs?: number;
  /** …and after this many consumed messages. Default 10,000. */
  checkpointEvery?: number;
  /** Messages held by the consumer (received, not yet handled). Default 1000. */
  batch?: number;
  /** `source` of the error events for malformed messages. */
  errorSource?: string;
  /**
   * Readiness: called with `false` and the reason when the consumer stops making progress (NATS down,
   * its pull lost, no progress for `stallMs` with work in hand), with `true` once it makes progress again.
   */
  onHealth?: (ok: boolean, detail?: string) => void;
  /** No progress for this long while messages are pending or one is in hand is a stall. Default 10 s. */
  stallMs?: number;
  /** How long one pull request lasts. Default 10 s. */
  pullExpiresMs?: number;
}

/** Counters of the consumer, read by `/metrics`. */
export interface ConsumerStats {
  /** Messages handed to the pipeline. */
  processed: number;
  /** Messages of symbols owned by other partitions. */
  foreign: number;
  /** Messages already applied before a restart (sequence ≤ the symbol's checkpoint). */
  replayed: number;
  /** Messages that were not valid events (dead-lettered). */
  malformed: number;
  checkpoints: number;
  /** Stream sequence of the last message seen. */
  position: number;
  /** Messages in the stream after `position` (lag). */
  pending: number;
}

/** Why the consumer is not making progress, since when, and whether it waits for a new pull to resume. */
interface Stall {
  readonly reason: string;
  readonly since: number;
  /** Resumes only with a consumer opened after the stall began (`#opens` then). */
  readonly reopenAfter: number | null;
}

function keyOf(source: string, symbol: string): string {
  return `${source}\u0000${symbol}`;
}

/**
 * Consumes `market.…` from JetStream for one partition of the (source, symbol) key space, crash-safely:
 *
 * - A `DurableConsumer` of its own in ordered mode (stream order; each message acked once handled) starts
 *   after the partition's checkpointed stream position, so a restart misses nothing and never sees
 *   messages out of order.
 * - Every checkpoint first waits until all outputs so far are stored (`bus.flush()`), then saves, for
 *   each (source, symbol) touched since the last one, the pipeline's state with the sequence of the
 *   last message applied to it, and finally the partition position.
 * - After a crash, messages between the position and the crash are read again; a message whose sequence
 *   is ≤ its symbol's checkpoint is skipped (its effect is in the restored state), the others are
 *   processed again and re-emit the same deterministic event ids (dropped as duplicates by JetStream in
 *   its 2-minute window, and by storage's idempotent writes after it).
 * - Symbols owned by other partitions are skipped without decoding.
 * - Its own recovery, not the client's: when the connection drops, or a pull fails (the consumer was
 *   deleted), or messages are pending but none comes for `stallMs`, a new consumer is opened, once NATS
 *   is up, after the last message handled (the client's own re-pull after a server restart can stay
 *   silent until two heartbeats are missed, ~30 s by default). A checkpoint whose connection drops
 *   fails at once rather than at its request timeout. `onHealth` reports each stall with its reason and
 *   the recovery, which is also logged once (what stalled, for how long).
 */
export class PartitionedConsumer {
  readonly #o: PartitionedConsumerOptions;
  readonly #name: string;
  readonly #applied = new Map<string, number>();
  readonly #dirty = new Set<string>();
  readonly #stats: ConsumerStats = {
    processed: 0,
    foreign: 0,
    replayed: 0,
    malformed: 0,
    checkpoints: 0,
    position: 0,
    pending: 0,
  };
  #savedPosition = -1;
  #sinceCheckpoint = 0;
  #lastCheckpointAt = 0;
  #durable: DurableConsumer | null = null;
  #link: NatsLink | null = null;
  /** Consumers opened so far. */
  #opens = 0;
  #stall: Stall | null = null;
  #lastProgressAt = 0;
  #loop: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #checkpointing: Promise<void> | null = null;
  #inMessage = false;
  #stopped = false;
  readonly #subjects: readonly string[];
  readonly #types: readonly EventType[];

  constructor(options: PartitionedConsumerOptions) {
    this.#o = options;
    this.#name = partitionName(options.partition);
    const types = options.eventTypes ?? options.processor.eventTypes;
    this.#types = types;
    // One filter per type: on a 2.10+ server the consumer filters them all, on 2.9 it reads MARKET whole.
    this.#subjects = types.map((t) => `market.${t}.>`);
  }

  stats(): Readonly<ConsumerStats> {
    return { ...this.#stats };
  }

  get partitionName(): string {
    return this.#name;
  }

  async start(): Promise<void> {
    const { store, logger } = this.#o;
    this.#stalled("starting", true);
    this.#link = new NatsLink(this.#o.nc, {
      onDisconnect: () => this.#reconsume(CONNECTION_DROPPED),
      onReconnect: () => this.#report(),
    });
    // MARKET is the connector's (NATS_STREAMS): it may not exist yet.
    const jsm = await jetstreamManager(this.#o.nc);
    const market = await whenStreamExists(MARKET_STREAM, () => jsm.streams.info(MARKET_STREAM), { logger });
    let position = await store.loadPosition(this.#name);
    if (position === null && (this.#o.start ?? "all") === "new") {
      position = market.state.last_seq;
      await store.savePosition(this.#name, position);
    }
    this.#stats.position = position ?? 0;
    this.#savedPosition = this.#stats.position;
    this.#lastCheckpointAt = Date.now();
    logger.info(
      { partition: this.#name, position: this.#stats.position, subjects: this.#subjects },
      "partition consumer starting",
    );
    const durable = new DurableConsumer({
      nc: this.#o.nc,
      stream: MARKET_STREAM,
      // This process's own, ordered from the partition's position; removed at stop (or by the server).
      name: `processor_${this.#name}_${nuid.next().slice(-10)}`,
      subjects: this.#subjects,
      batch: this.#o.batch ?? 1000,
      maxAckPending: 2 * (this.#o.batch ?? 1000),
      pullExpiresMs: this.#o.pullExpiresMs ?? 10_000,
      logger: {
        debug: () => undefined,
        info: logger.info.bind(logger),
        warn: logger.warn.bind(logger),
        error: logger.error.bind(logger),
      },
      onPullFailed: (err) => this.#stalled(`the pull failed (${errorMessage(err)})`, true),
      from: {
        startSequence: () => this.#stats.position + 1,
        onOpen: () => this.#opened(),
      },
    });
    this.#durable = durable;
    await durable.start();
    this.#loop = this.#run();
    const interval = this.#o.checkpointIntervalMs ?? 1000;
    this.#timer = setInterval(() => this.#idleCheckpoint(), Math.max(50, Math.floor(interval / 2)));
    this.#timer.unref();
    this.#watchdog = setInterval(() => this.#watch(), Math.max(50, Math.floor(this.#stallMs / 4)));
    this.#watchdog.unref();
  }

  get #stallMs(): number {
    return this.#o.stallMs ?? 10_000;
  }

  /** A consumer was (re)opened at the position: caught up already means nothing to wait for. */
  #opened(): void {
    this.#opens++;
    const durable = this.#durable;
    if (durable === null) return;
    durable
      .info()
      .then((info) => {
        if (info.num_pending === 0 && durable.queued === 0) this.#progressed();
      })
      .catch(() => undefined);
  }

  /** Stalled for `reason`; with `reopen`, only a consumer opened after now resumes it. */
  #stalled(reason: string, reopen: boolean): void {
    const stall = this.#stall;
    if (stall === null) {
      this.#stall = { reason, since: Date.now(), reopenAfter: reopen ? this.#opens : null };
    } else if (reason === CONNECTION_DROPPED) {
      // The root cause: a pull cut by the server's shutdown may have been reported a moment earlier.
      this.#stall = { reason, since: stall.since, reopenAfter: this.#opens };
    } else if (reopen && stall.reopenAfter === null) {
      // Now the messages already in hand no longer end it either.
      this.#stall = { reason, since: stall.since, reopenAfter: this.#opens };
    }
    this.#report();
  }

  /** Reads again, with a new consumer, from after the last message handled (once NATS is up). */
  #reconsume(reason: string): void {
    if (this.#stopped) return;
    this.#stalled(reason, true);
    this.#durable?.restart();
  }

  #report(): void {
    const stall = this.#stall;
    if (stall === null) {
      this.#o.onHealth?.(true);
      return;
    }
    const waiting = this.#link?.up === false ? "; waiting for NATS" : "";
    this.#o.onHealth?.(false, `${stall.reason}${waiting}`);
  }

  /** A message handled, a checkpoint saved, or a consumer opened with nothing to read. */
  #progressed(): void {
    this.#lastProgressAt = Date.now();
    const stall = this.#stall;
    if (stall === null || (stall.reopenAfter !== null && this.#opens <= stall.reopenAfter)) return;
    this.#stall = null;
    if (stall.reason !== "starting") {
      this.#o.logger.info(
        {
          partition: this.#name,
          stalled: stall.reason,
          stalled_ms: this.#lastProgressAt - stall.since,
          position: this.#stats.position,
        },
        "partition consumer resumed",
      );
    }
    this.#report();
  }

  /** Work in hand (a message, a checkpoint, messages known to be pending) and no progress for `stallMs`. */
  #watch(): void {
    if (this.#stopped || this.#stall !== null) return;
    const blocked = this.#inMessage || this.#checkpointing !== null;
    const now = Date.now();
    if (!blocked && this.#stats.pending === 0) {
      this.#lastProgressAt = now; // caught up: waiting is not stalling
      return;
    }
    const idleMs = now - this.#lastProgressAt;
    if (idleMs < this.#stallMs) return;
    if (blocked) {
      // Its own timeouts end it; a new consumer would not help.
      this.#stalled(`${this.#inMessage ? "a message" : "a checkpoint"} in hand for ${idleMs} ms`, false);
    } else {
      this.#reconsume(`no message for ${idleMs} ms with ${this.#stats.pending} pending`);
    }
  }

  async #run(): Promise<void> {
    const durable = this.#durable!;
    let failures = 0;
    while (!this.#stopped) {
      const msg = durable.shift();
      if (msg === undefined) {
        await durable.waitForMessage();
        continue;
      }
      try {
        if (this.#checkpointing) await this.#checkpointing;
        this.#inMessage = true;
        try {
          // A message read again by a new consumer (its first copy was handled) is skipped.
          if (msg.seq > this.#stats.position) await this.#onMessage(msg);
        } finally {
          this.#inMessage = false;
        }
        durable.ack(msg);
        this.#stats.position = Math.max(this.#stats.position, msg.seq); // only once fully handled
        this.#stats.pending = msg.info.pending;
        this.#progressed();
        if (this.#checkpointDue()) await this.#runCheckpoint();
        failures = 0;
      } catch (err) {
        if (this.#stopped) break;
        // State in memory may hold part of the failed message: go back to the last checkpoint and
        // replay from there, exactly as after a crash.
        this.#o.logger.error(
          { err, partition: this.#name, checkpoint: this.#savedPosition },
          "partition consumer failed; rewinding to the last checkpoint",
        );
        this.#rewind();
        this.#stalled(`the consumer failed (${errorMessage(err)})`, true);
        // A message that fails every time must not spin: 500 ms doubling up to 30 s between rewinds.
        await new Promise((r) => setTimeout(r, backoffDelay(++failures, REWIND_BACKOFF)));
        durable.restart();
      }
    }
  }

  /** Forgets everything since the last checkpoint: symbols reload their state from the store. */
  #rewind(): void {
    this.#applied.clear();
    this.#dirty.clear();
    this.#stats.position = this.#savedPosition;
    this.#sinceCheckpoint = 0;
  }

  async #onMessage(msg: JsMsg): Promise<void> {
    const { processor, bus } = this.#o;
    this.#sinceCheckpoint++;
    let parsed;
    try {
      parsed = parseSubject(msg.subject);
    } catch (err) {
      await this.#malformed(msg, err);
      return;
    }
    if (parsed.stage !== "market") return;
    if (!ownsKey(this.#o.partition, parsed.source, parsed.symbol)) {
      this.#stats.foreign++;
      return;
    }
    if (!this.#types.includes(parsed.event_type)) return;
    const key = keyOf(parsed.source, parsed.symbol);
    let applied = this.#applied.get(key);
    if (applied === undefined) applied = await this.#restoreKey(parsed.source, parsed.symbol);
    if (msg.seq <= applied) {
      this.#stats.replayed++;
      return;
    }
    let event: StandardEvent;
    try {
      event = decodeEvent(msg.data);
      if (!subjectMatchesEvent(parsed, event)) throw new Error(`event does not belong on ${msg.subject}`);
    } catch (err) {
      await this.#malformed(msg, err);
      this.#applied.set(key, msg.seq);
      this.#dirty.add(key);
      return;
    }
    const outputs = await processor.handle(event);
    for (const out of outputs) await bus.publish(out);
    this.#stats.processed++;
    this.#applied.set(key, msg.seq);
    this.#dirty.add(key);
  }

  async #restoreKey(source: string, symbol: string): Promise<number> {
    const saved = await this.#o.store.loadKey(source, symbol);
    const seq = saved?.seq ?? 0;
    // `null` resets the key: after a rewind, memory may hold state the store never saw.
    this.#o.processor.importState(source, symbol, saved?.state ?? null);
    this.#applied.set(keyOf(source, symbol), seq);
    return seq;
  }

  async #malformed(msg: JsMsg, err: unknown): Promise<void> {
    this.#stats.malformed++;
    const error = errorMessage(err);
    this.#o.logger.warn({ err, subject: msg.subject, seq: msg.seq }, "malformed message dead-lettered");
    const { bus } = this.#o;
    await bus.publishRaw(deadLetterSubject(msg.subject), msg.data);
    await bus.publish(
      Events.create({
        event_type: EventType.ERROR,
        source: this.#o.errorSource ?? "processor-service",
        event_id: deterministicId("malformed", MARKET_STREAM, msg.seq),
        payload: {
          error_code: "MALFORMED_MESSAGE",
          message: error,
          details: { subject: msg.subject, stream_seq: msg.seq, dead_letter: deadLetterSubject(msg.subject) },
        },
      }),
    );
  }

  #checkpointDue(): boolean {
    // Its requests could not be answered while NATS is down: it runs once NATS is back.
    if (this.#link?.up === false) return false;
    return (
      this.#sinceCheckpoint >= (this.#o.checkpointEvery ?? 10_000) ||
      Date.now() - this.#lastCheckpointAt >= (this.#o.checkpointIntervalMs ?? 1000)
    );
  }

  #idleCheckpoint(): void {
    if (this.#inMessage || this.#checkpointing || this.#stopped || this.#link?.up === false) return;
    if (this.#stats.position === this.#savedPosition && this.#dirty.size === 0) return;
    if (Date.now() - this.#lastCheckpointAt < (this.#o.checkpointIntervalMs ?? 1000)) return;
    this.#runCheckpoint().catch((err: unknown) =>
      this.#o.logger.error({ err, partition: this.#name }, "checkpoint failed"),
    );
  }

  #runCheckpoint(): Promise<void> {
    if (this.#checkpointing) return this.#checkpointing;
    const done = this.checkpoint().finally(() => {
      this.#checkpointing = null;
    });
    this.#checkpointing = done;
    return done;
  }

  /** Saves the partition's progress (see the class comment for the order). */
  async checkpoint(): Promise<void> {
    const position = this.#stats.position;
    this.#lastCheckpointAt = Date.now();
    this.#sinceCheckpoint = 0;
    if (position === this.#savedPosition && this.#dirty.size === 0) return;
    const { bus, store, processor } = this.#o;
    await bus.flush();
    const keys = [...this.#dirty];
    this.#dirty.clear();
    const entries = keys.map((key) => {
      const [source, symbol] = key.split("\u0000") as [string, string];
      return {
        source,
        symbol,
        seq: this.#applied.get(key) ?? 0,
        state: processor.exportState(source, symbol) ?? null,
      };
    });
    // A request the connection drops under can only end at its timeout: fail it at the drop instead.
    const guard = <T>(work: Promise<T>) => this.#link?.guard(work) ?? work;
    try {
      await guard(store.saveKeys(entries));
      await guard(store.savePosition(this.#name, position));
    } catch (err) {
      for (const key of keys) this.#dirty.add(key);
      throw err;
    }
    this.#savedPosition = position;
    this.#stats.checkpoints++;
    this.#progressed();
  }

  /** Stops intake, finishes the message in hand and saves a final checkpoint (open candles included). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#link?.stop();
    await this.#durable?.stopPulling();
    this.#durable?.wake();
    await this.#loop;
    if (this.#checkpointing) await this.#checkpointing.catch(() => undefined);
    await this.checkpoint();
    await this.#durable?.close();
    this.#o.logger.info(
      { partition: this.#name, position: this.#stats.position },
      "partition consumer stopped",
    );
  }
}
