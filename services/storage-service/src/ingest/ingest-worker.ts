import {
  MarketScraperError,
  EventType,
  STAGES,
  type Stage,
  StandardEvent,
  deadLetterSubject,
  encodeEvent,
  subjectFor,
} from "@market-scraper/events";
import { STREAMS, type StreamName, ensureStreams, whenStreamExists } from "@market-scraper/bus";
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
import { type NatsConnection, headers, nanos } from "@nats-io/transport-node";
import type { HealthState, Logger } from "@market-scraper/runtime";
import type { StorageMetrics } from "../metrics.js";
import type { EventRow } from "../store/event-row.js";
import type { Store } from "../store/store.js";
import { insertIsolating } from "../store/insert-isolating.js";
import { decodeMessage } from "./decode.js";
import { DATABASE_HEALTH_CHECK, DatabaseOutage, insertWithRetry } from "./insert-retry.js";
import { Signal, sleep } from "./signal.js";

/** A durable consumer exists with another filter: delete it or use another `STORAGE_DURABLE`. */
export class IngestError extends MarketScraperError<"CONSUMER_CONFLICT"> {
  override readonly name = "IngestError";
}

/** Health check the ingest keeps: false while the database fails (we stop pulling and retry). */
export { DATABASE_HEALTH_CHECK };

const STREAM_OF_STAGE: Readonly<Record<Stage, string>> = {
  market: "MARKET",
  processed: "PROCESSED",
  system: "SYSTEM",
  custom: "SYSTEM",
};

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
  readonly at: number;
}

/** A durable consumer name for a subject: `storage_market_all` for `market.>`. */
export function consumerName(durable: string, subject: string): string {
  const tokens = subject
    .split(".")
    .map((t) => (t === ">" ? "all" : t === "*" ? "any" : t.replace(/[^A-Za-z0-9_-]/g, "_")));
  return [durable, ...tokens].join("_");
}

/**
 * Moves events from JetStream into the store: pulls with `fetch` into a bounded buffer, writes batches of
 * up to `batchSize` (or what arrived within `flushMs`), acks each message only after its batch commits.
 * While the database fails it keeps the batch in hand (telling the server it is still working on it),
 * stops pulling once the buffer is full and retries with exponential backoff: memory stays bounded.
 * A message that cannot be parsed or stored goes to `deadletter.<subject>` with an `error` event.
 */
export class IngestWorker {
  readonly #o: Required<IngestOptions>;
  readonly #deps: IngestDeps;
  readonly #log: Logger;
  /** Shared by the batches in flight: one outage, logged once. */
  readonly #outage: DatabaseOutage;
  readonly #specs: ConsumerSpec[];
  readonly #buffer: Buffered[] = [];
  readonly #capacity: number;
  #reserved = 0;
  readonly #itemSignal = new Signal();
  readonly #spaceSignal = new Signal();
  #stopping = false;
  #pullsDone = false;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  #loops: Promise<void>[] = [];
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
      return { stream: STREAM_OF_STAGE[stage], name: consumerName(this.#o.durable, subject), subject };
    });
    // Pulled and not yet written, pull requests in flight included: one batch per consumer's request
    // (idle consumers hold theirs for up to `pullExpiresMs`) plus one ready to write. Never more.
    this.#capacity = (this.#specs.length + 1) * this.#o.batchSize;
  }

  get consumers(): readonly ConsumerSpec[] {
    return this.#specs;
  }

  async start(): Promise<void> {
    this.#js = jetstream(this.#deps.nc);
    this.#jsm = await jetstreamManager(this.#deps.nc);
    await this.#ensureStreams();
    for (const spec of this.#specs) {
      await whenStreamExists(spec.stream, () => this.#ensureConsumer(spec), {
        logger: this.#log,
        stopped: () => this.#stopping,
      });
    }
    this.#deps.health?.setCheck(DATABASE_HEALTH_CHECK, true);
    this.#loops = this.#specs.map((spec) => this.#pullLoop(spec));
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
    this.#spaceSignal.notify();
    await Promise.all(this.#loops);
    this.#pullsDone = true;
    this.#itemSignal.notify();
    await this.#batchLoop;
  }

  /** Messages on the streams not yet delivered to our consumers (sum of `num_pending`). */
  async consumerLag(): Promise<number | null> {
    await this.#refreshLag();
    return this.#lastLag;
  }

  async #refreshLag(): Promise<void> {
    const jsm = this.#jsm;
    if (jsm === undefined) return;
    try {
      let lag = 0;
      for (const spec of this.#specs) lag += (await jsm.consumers.info(spec.stream, spec.name)).num_pending;
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

  async #ensureConsumer(spec: ConsumerSpec): Promise<void> {
    const jsm = this.#jsm!;
    const wanted = {
      ack_wait: nanos(this.#o.ackWaitMs),
      max_ack_pending: this.#o.maxAckPending,
    };
    const existing = await jsm.consumers.info(spec.stream, spec.name).catch(() => null);
    if (existing !== null) {
      if ((existing.config.filter_subject ?? "") !== spec.subject) {
        throw new IngestError(
          "CONSUMER_CONFLICT",
          `consumer ${spec.name} on ${spec.stream} filters '${existing.config.filter_subject ?? ""}', not '${spec.subject}'`,
        );
      }
      if (
        existing.config.ack_wait !== wanted.ack_wait ||
        existing.config.max_ack_pending !== wanted.max_ack_pending
      ) {
        await jsm.consumers.update(spec.stream, spec.name, wanted);
      }
      return;
    }
    try {
      await jsm.consumers.add(spec.stream, {
        durable_name: spec.name,
        filter_subject: spec.subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_deliver: -1, // poison messages are ours to dead-letter
        ...wanted,
      });
    } catch (err) {
      // Another replica may have created it at the same moment.
      if ((await jsm.consumers.info(spec.stream, spec.name).catch(() => null)) === null) throw err;
    }
  }

  /**
   * One pull request at a time per consumer, for at most the free space of the buffer. A `fetch` ends
   * when its request ends, so stopping never leaves a request open on the server (which would hold
   * messages until `ack_wait`, as `consume().close()` does).
   */
  async #pullLoop(spec: ConsumerSpec): Promise<void> {
    let consumer: Consumer | undefined;
    let failures = 0;
    while (!this.#stopping) {
      const space = this.#capacity - this.#buffer.length - this.#reserved;
      if (space <= 0) {
        await this.#spaceSignal.wait(1_000);
        continue;
      }
      const want = Math.min(this.#o.batchSize, space);
      this.#reserved += want;
      let received = 0;
      try {
        consumer ??= await this.#js!.consumers.get(spec.stream, spec.name);
        const messages = await consumer.fetch({ max_messages: want, expires: this.#o.pullExpiresMs });
        for await (const msg of messages) {
          received++;
          this.#reserved--;
          this.#buffer.push({ msg, at: performance.now() });
          this.#deps.metrics.received.inc();
          this.#itemSignal.notify();
        }
        failures = 0;
      } catch (err) {
        consumer = undefined;
        if (this.#stopping) break;
        failures++;
        this.#log.warn({ err, consumer: spec.name }, "pull failed; retrying");
        await sleep(Math.min(this.#o.maxBackoffMs, 250 * 2 ** Math.min(failures, 6)));
        // After a server restart the stream or consumer may need to be put back.
        try {
          await this.#ensureStreams();
          await this.#ensureConsumer(spec);
        } catch (e) {
          this.#log.warn({ err: e, consumer: spec.name }, "could not ensure the consumer");
        }
      } finally {
        this.#reserved -= want - received;
      }
    }
  }

  async #runBatches(): Promise<void> {
    for (;;) {
      this.#deps.metrics.buffered.set(this.#buffer.length);
      const oldest = this.#buffer[0];
      if (oldest === undefined) {
        if (this.#pullsDone) {
          await Promise.all(this.#inFlight);
          return;
        }
        await this.#itemSignal.wait(1_000);
        continue;
      }
      if (this.#buffer.length < this.#o.batchSize && !this.#stopping) {
        const wait = this.#o.flushMs - (performance.now() - oldest.at);
        if (wait > 0) {
          await this.#itemSignal.wait(wait);
          continue;
        }
      }
      // Up to `insertConcurrency` batches in flight: the database commits one while we decode the next.
      while (this.#inFlight.size >= this.#o.insertConcurrency) await Promise.race(this.#inFlight);
      const batch = this.#buffer.splice(0, this.#o.batchSize);
      this.#spaceSignal.notify();
      const write = this.#writeBatch(batch.map((b) => b.msg))
        .catch((err: unknown) => this.#log.error({ err }, "batch failed; its messages will be redelivered"))
        .finally(() => this.#inFlight.delete(write));
      this.#inFlight.add(write);
    }
  }

  async #writeBatch(msgs: JsMsg[]): Promise<void> {
    const started = performance.now();
    const entries: { msg: JsMsg; row: EventRow }[] = [];
    const poison: Promise<unknown>[] = [];
    for (const msg of msgs) {
      const decoded = decodeMessage(msg.subject, msg.data);
      if (decoded.ok) entries.push({ msg, row: decoded.row });
      else poison.push(this.#deadLetter(msg, "malformed", decoded.error, decoded.event_id));
    }
    const stored = await this.#storeWithRetry(entries);
    await Promise.all(poison);
    if (stored === null) return; // given up at shutdown: the messages were handed back
    for (const msg of stored.acked) msg.ack();
    const m = this.#deps.metrics;
    m.stored.inc(stored.inserted);
    m.duplicates.inc(stored.acked.length - stored.inserted);
    m.batchSize.observe(msgs.length);
    m.batchSeconds.observe((performance.now() - started) / 1000);
  }

  /**
   * Inserts the rows, retrying while the database is unavailable. Rows the database rejects are found
   * one by one and dead-lettered, so one bad row never blocks the others. Returns the messages to ack,
   * or null when shutting down with the database still failing (the messages are nak'ed).
   */
  async #storeWithRetry(
    entries: { msg: JsMsg; row: EventRow }[],
  ): Promise<{ acked: JsMsg[]; inserted: number } | null> {
    // Keep the server from redelivering what we hold while the batch is written: an attempt may wait
    // as long as the statement timeout (a locked table) and an outage as long as it lasts.
    const keepAlive = setInterval(() => {
      for (const { msg } of entries) msg.working();
      for (const { msg } of this.#buffer) msg.working();
    }, this.#o.ackWaitMs / 3);
    keepAlive.unref();
    try {
      return await insertWithRetry({
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
          for (const { msg } of entries) msg.nak();
          return false;
        },
      });
    } finally {
      clearInterval(keepAlive);
    }
  }

  async #insertIsolating(
    entries: { msg: JsMsg; row: EventRow }[],
  ): Promise<{ acked: JsMsg[]; inserted: number }> {
    const { stored, inserted } = await insertIsolating(
      this.#deps.store,
      entries,
      (e) => e.row,
      (e, err) => this.#deadLetter(e.msg, "rejected", err.message, e.row.event_id),
      this.#log,
    );
    return { acked: stored.map((e) => e.msg), inserted };
  }

  /**
   * Publishes the original bytes to `deadletter.<subject>` and an `error` event on
   * `system.error.<source>`, then terminates the message. If NATS refuses, the message is nak'ed and
   * comes back later.
   */
  async #deadLetter(
    msg: JsMsg,
    reason: "malformed" | "rejected",
    error: string,
    eventId?: string,
  ): Promise<void> {
    const js = this.#js!;
    const dlSubject = deadLetterSubject(msg.subject);
    try {
      const h = headers();
      h.set("Storage-Error", error.slice(0, 1024).replace(/[\r\n]+/g, " "));
      await js.publish(dlSubject, msg.data, {
        msgID: `storage-dl:${msg.info.stream}:${msg.info.streamSequence}`,
        headers: h,
      });
      const event = StandardEvent.create({
        event_type: EventType.ERROR,
        source: this.#o.source,
        payload: {
          error_code: reason === "malformed" ? "MALFORMED_MESSAGE" : "STORE_REJECTED",
          message: `${reason === "malformed" ? "malformed message" : "event rejected by the database"} on ${msg.subject}: ${error}`,
          details: {
            subject: msg.subject,
            deadletter_subject: dlSubject,
            stream: msg.info.stream,
            stream_sequence: msg.info.streamSequence,
            deliveries: msg.info.deliveryCount,
            ...(eventId === undefined ? {} : { event_id: eventId }),
          },
        },
        ...(eventId === undefined ? {} : { parent_event_id: eventId }),
      });
      await js.publish(subjectFor(event), encodeEvent(event), { msgID: event.event_id });
      msg.term();
      this.#deps.metrics.deadLetters.inc({ reason });
      this.#log.warn({ subject: msg.subject, reason, error }, "message dead-lettered");
    } catch (err) {
      this.#log.error({ err, subject: msg.subject }, "dead-lettering failed; message handed back");
      msg.nak(1_000);
    }
  }
}
