import { STAGES, type Stage } from "@market-scraper/events";
import {
  DeadLetterHub,
  DurableConsumer,
  STAGE_STREAMS,
  STREAMS,
  type StreamName,
  createBusMetrics,
  ensureStreams,
} from "@market-scraper/bus";
import { type JetStreamManager, type JsMsg, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { HealthState, Logger } from "@market-scraper/runtime";
import type { StorageMetrics } from "../metrics.js";
import type { EventRow } from "../store/event-row.js";
import type { Store } from "../store/store.js";
import { insertIsolating } from "../store/insert-isolating.js";
import { decodeMessage } from "./decode.js";
import { DATABASE_HEALTH_CHECK, DatabaseOutage, insertWithRetry } from "./insert-retry.js";
import { Signal } from "./signal.js";

/** Health check the ingest keeps: false while the database fails (we stop pulling and retry). */
export { DATABASE_HEALTH_CHECK };

export interface IngestOptions {
  /** Subjects consumed, one durable consumer each (`market.>`, `processed.>`, `system.>`). */
  subjects: readonly string[];
  /** Prefix of the durable names; replicas with the same prefix share the work. */
  durable: string;
  batchSize: number;
  flushMs: number;
  ackWaitMs: number;
  maxAckPending: number;
  maxBackoffMs: number;
  /** `source` of the `error` events that accompany dead letters. */
  source: string;
  /** How long one pull request waits for messages. Default 1000 ms (the client's minimum). */
  pullExpiresMs?: number;
  /** Batches written at once (PostgreSQL overlaps them; SQLite writes synchronously anyway). Default 2. */
  insertConcurrency?: number;
  /** Create or update the MARKET/PROCESSED/SYSTEM streams at start. Default true. */
  ensureStreams?: boolean;
  /** Replicas of those streams (`NATS_STREAM_REPLICAS`). Default 1. */
  streamReplicas?: number;
  /** Which of those streams this process owns and ensures (`NATS_STREAMS`). Default all. */
  streamNames?: readonly StreamName[];
}

export interface IngestDeps {
  nc: NatsConnection;
  store: Store;
  logger: Logger;
  metrics: StorageMetrics;
  health?: HealthState;
}

interface ConsumerSpec {
  readonly stream: string;
  readonly name: string;
  readonly subject: string;
}

interface Buffered {
  readonly msg: JsMsg;
  readonly consumer: DurableConsumer;
  readonly at: number;
}

interface Entry {
  readonly msg: JsMsg;
  readonly consumer: DurableConsumer;
  readonly row: EventRow;
}

/** A durable consumer name for a subject: `storage_market_all` for `market.>`. */
export function consumerName(durable: string, subject: string): string {
  const tokens = subject
    .split(".")
    .map((t) => (t === ">" ? "all" : t === "*" ? "any" : t.replace(/[^A-Za-z0-9_-]/g, "_")));
  return [durable, ...tokens].join("_");
}

/**
 * Moves events from JetStream into the store: one `DurableConsumer` per subject (it pulls, overlapping,
 * into a bounded hold and keeps every held message alive with `working()` until it is acked), writes
 * batches of up to `batchSize` (or what arrived within `flushMs`), acks each message only after its
 * batch commits. While the database fails the batch in hand is held whole; the consumers stop pulling
 * once their hold is full, and the insert is retried with backoff: memory stays bounded, and nothing
 * is redelivered meanwhile. A message that cannot be parsed or stored goes to `deadletter.<subject>`
 * with an `error` event.
 */
export class IngestWorker {
  readonly #o: Required<IngestOptions>;
  readonly #deps: IngestDeps;
  readonly #log: Logger;
  /** Shared by the batches in flight: one outage, logged once. */
  readonly #outage: DatabaseOutage;
  readonly #specs: ConsumerSpec[];
  readonly #buffer: Buffered[] = [];
  readonly #itemSignal = new Signal();
  #consumers: DurableConsumer[] = [];
  #stopping = false;
  #pullsDone = false;
  #jsm: JetStreamManager | undefined;
  #batchLoop: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #lastLag: number | null = null;
  #lagTimer: NodeJS.Timeout | undefined;

  constructor(deps: IngestDeps, options: IngestOptions) {
    this.#deps = deps;
    this.#log = deps.logger.child({ component: "ingest" });
    this.#outage = new DatabaseOutage({ metrics: deps.metrics, health: deps.health, log: this.#log });
    this.#o = {
      pullExpiresMs: 1000,
      ensureStreams: true,
      insertConcurrency: 2,
      streamReplicas: 1,
      streamNames: Object.keys(STREAMS) as StreamName[],
      ...options,
    };
    this.#specs = this.#o.subjects.map((subject) => {
      const stage = subject.split(".")[0] as Stage;
      if (!STAGES.includes(stage)) throw new TypeError(`not an event subject: ${subject}`);
      return { stream: STAGE_STREAMS[stage], name: consumerName(this.#o.durable, subject), subject };
    });
  }

  get consumers(): readonly ConsumerSpec[] {
    return this.#specs;
  }

  async start(): Promise<void> {
    const { nc } = this.#deps;
    this.#jsm = await jetstreamManager(nc);
    await this.#ensureStreams();
    const hub = new DeadLetterHub(this.#log, createBusMetrics(), this.#o.source);
    for (const spec of this.#specs) {
      const consumer = new DurableConsumer({
        nc,
        stream: spec.stream,
        name: spec.name,
        subjects: [spec.subject],
        ackWaitMs: this.#o.ackWaitMs,
        maxAckPending: this.#o.maxAckPending,
        batch: this.#o.batchSize,
        // One batch written while the next one arrives; never more than the server lets out.
        maxHeld: Math.min(this.#o.maxAckPending, 2 * this.#o.batchSize),
        pullExpiresMs: this.#o.pullExpiresMs,
        backoff: { initialMs: 250, maxMs: this.#o.maxBackoffMs },
        ensureStream: () => this.#ensureStreams(),
        deadLetters: { hub },
        logger: this.#log,
      });
      this.#consumers.push(consumer);
      await consumer.start();
    }
    this.#deps.health?.setCheck(DATABASE_HEALTH_CHECK, true);
    this.#batchLoop = this.#runBatches();
    void this.#refreshLag();
    this.#lagTimer = setInterval(() => void this.#refreshLag(), 5_000);
    this.#lagTimer.unref();
  }

  /** Stops pulling, writes and acks what is in hand, then resolves. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#lagTimer !== undefined) clearInterval(this.#lagTimer);
    await Promise.all(this.#consumers.map((c) => c.stopPulling()));
    this.#pullsDone = true;
    this.#itemSignal.notify();
    await this.#batchLoop;
    await Promise.all(this.#consumers.map((c) => c.close()));
  }

  /** Messages on the streams not yet delivered to our consumers (sum of `num_pending`). */
  async consumerLag(): Promise<number | null> {
    await this.#refreshLag();
    return this.#lastLag;
  }

  async #refreshLag(): Promise<void> {
    if (this.#consumers.length === 0) return;
    try {
      let lag = 0;
      for (const consumer of this.#consumers) lag += (await consumer.info()).num_pending;
      this.#lastLag = lag;
      this.#deps.metrics.consumerLag.set(lag);
    } catch (err) {
      this.#log.debug({ err }, "consumer info failed");
    }
  }

  async #ensureStreams(): Promise<void> {
    if (!this.#o.ensureStreams) return;
    await ensureStreams(this.#jsm!, { replicas: this.#o.streamReplicas, names: this.#o.streamNames });
  }

  /** Moves what the consumers received into the buffer, stamped with when it was seen. */
  #collect(): void {
    const now = performance.now();
    for (const consumer of this.#consumers) {
      for (let msg = consumer.shift(); msg !== undefined; msg = consumer.shift()) {
        this.#buffer.push({ msg, consumer, at: now });
        this.#deps.metrics.received.inc();
      }
    }
  }

  /** Resolves once a consumer has a message, `notify` is called, or after `timeoutMs`. */
  #waitForItems(timeoutMs: number): Promise<void> {
    return Promise.race([
      this.#itemSignal.wait(timeoutMs),
      ...this.#consumers.map((c) => c.waitForMessage()),
    ]);
  }

  async #runBatches(): Promise<void> {
    for (;;) {
      this.#collect();
      this.#deps.metrics.buffered.set(this.#buffer.length);
      const oldest = this.#buffer[0];
      if (oldest === undefined) {
        if (this.#pullsDone) {
          await Promise.all(this.#inFlight);
          this.#collect();
          if (this.#buffer.length === 0) return;
          continue;
        }
        await this.#waitForItems(1_000);
        continue;
      }
      if (this.#buffer.length < this.#o.batchSize && !this.#stopping) {
        const wait = this.#o.flushMs - (performance.now() - oldest.at);
        if (wait > 0) {
          await this.#waitForItems(wait);
          continue;
        }
      }
      // Up to `insertConcurrency` batches in flight: the database commits one while we decode the next.
      while (this.#inFlight.size >= this.#o.insertConcurrency) await Promise.race(this.#inFlight);
      const batch = this.#buffer.splice(0, this.#o.batchSize);
      const write = this.#writeBatch(batch)
        .catch((err: unknown) => this.#log.error({ err }, "batch failed; its messages will be redelivered"))
        .finally(() => this.#inFlight.delete(write));
      this.#inFlight.add(write);
    }
  }

  async #writeBatch(batch: Buffered[]): Promise<void> {
    const started = performance.now();
    const entries: Entry[] = [];
    const poison: Promise<unknown>[] = [];
    for (const { msg, consumer } of batch) {
      const decoded = decodeMessage(msg.subject, msg.data);
      if (decoded.ok) entries.push({ msg, consumer, row: decoded.row });
      else poison.push(this.#deadLetter(consumer, msg, "malformed", decoded.error, decoded.event_id));
    }
    const stored = await this.#storeWithRetry(entries);
    await Promise.all(poison);
    if (stored === null) return; // given up at shutdown: the messages were handed back
    for (const { msg, consumer } of stored.acked) consumer.ack(msg);
    const m = this.#deps.metrics;
    m.stored.inc(stored.inserted);
    m.duplicates.inc(stored.acked.length - stored.inserted);
    m.batchSize.observe(batch.length);
    m.batchSeconds.observe((performance.now() - started) / 1000);
  }

  /**
   * Inserts the rows, retrying while the database is unavailable (the consumers keep the held messages
   * alive meanwhile: an attempt may wait as long as the statement timeout, an outage as long as it
   * lasts). Rows the database rejects are found one by one and dead-lettered, so one bad row never
   * blocks the others. Returns the entries to ack, or null when shutting down with the database still
   * failing (the messages are nak'ed).
   */
  async #storeWithRetry(entries: Entry[]): Promise<{ acked: Entry[]; inserted: number } | null> {
    return insertWithRetry({
      insert: () => this.#insertIsolating(entries),
      outage: this.#outage,
      log: this.#log,
      maxBackoffMs: this.#o.maxBackoffMs,
      shouldRetry: (err) => {
        if (!this.#stopping) return true;
        this.#log.error(
          { err, messages: entries.length },
          "database failing at shutdown; handing messages back",
        );
        for (const { msg, consumer } of entries) consumer.nak(msg);
        return false;
      },
    });
  }

  async #insertIsolating(entries: Entry[]): Promise<{ acked: Entry[]; inserted: number }> {
    const { stored, inserted } = await insertIsolating(
      this.#deps.store,
      entries,
      (e) => e.row,
      (e, err) => this.#deadLetter(e.consumer, e.msg, "rejected", err.message, e.row.event_id),
      this.#log,
    );
    return { acked: stored, inserted };
  }

  /**
   * The message's original bytes to `deadletter.<subject>` and an `error` event on
   * `system.error.<source>` (`MALFORMED_MESSAGE` or `REJECTED`), then the message is terminated. If NATS
   * refuses, the consumer nak's it and it comes back later.
   */
  async #deadLetter(
    consumer: DurableConsumer,
    msg: JsMsg,
    reason: "malformed" | "rejected",
    error: string,
    eventId?: string,
  ): Promise<void> {
    const sent = await consumer.deadLetter(msg, {
      reason: reason === "malformed" ? "MALFORMED" : "REJECTED",
      error,
      ...(eventId === undefined ? {} : { event_id: eventId }),
    });
    if (sent) this.#deps.metrics.deadLetters.inc({ reason });
  }
}
