import type { EventBus, Subscription } from "@market-scraper/bus";
import {
  STAGES,
  type Stage,
  type StandardEvent,
  stageOf,
  subjectFor,
  subjectMatchesPattern,
} from "@market-scraper/events";
import type { HealthState, Logger } from "@market-scraper/runtime";
import type { StorageMetrics } from "../metrics.js";
import { type EventRow, eventRow } from "../store/event-row.js";
import type { Store } from "../store/store.js";
import { insertIsolating } from "../store/insert-isolating.js";
import { errorMessage } from "../store/store-error.js";
import { DATABASE_HEALTH_CHECK, DatabaseOutage, insertWithRetry } from "./insert-retry.js";
import { Signal } from "./signal.js";

export interface BusIngestOptions {
  /** Subject patterns stored (`STORAGE_SUBJECTS`: `market.>`, `processed.>`, `system.>`). */
  subjects: readonly string[];
  /** Rows per insert (`STORAGE_BATCH_SIZE`). */
  batchSize: number;
  /** A partial batch is written once its oldest row waited this long (`STORAGE_FLUSH_MS`). */
  flushMs: number;
  /** Longest pause between retries while the database fails (`STORAGE_MAX_BACKOFF`). */
  maxBackoffMs: number;
}

export interface BusIngestDeps {
  bus: EventBus;
  store: Store;
  logger: Logger;
  metrics: StorageMetrics;
  health?: HealthState;
}

/**
 * Moves events from any `EventBus` (e.g. `MemoryEventBus` in `standalone`) into the store: one plain
 * subscription on the stages of `subjects`, rows batched by `batchSize`/`flushMs` and inserted
 * idempotently (`ON CONFLICT DO NOTHING`). When `2 × batchSize` rows wait (one batch being written, one
 * filling), the handler waits for room, so the bus queue fills and its overflow policy (by default:
 * `publish` waits) pushes back on the producers: memory stays bounded. While the database fails, the
 * batch in hand is retried with exponential backoff and readiness is off (`database` check). `stop()`
 * ends the subscription (the bus finishes the events already queued for it) and writes everything left.
 *
 * Unlike the JetStream ingest there is no acknowledgement: what a bus delivered is in memory only, so a
 * crash loses the rows not yet written. An event that cannot become a row (or that the database refuses)
 * is counted (`market_scraper_storage_dead_letters_total`) and logged, never retried forever.
 */
export class BusIngest {
  readonly #o: BusIngestOptions;
  readonly #deps: BusIngestDeps;
  readonly #log: Logger;
  /** Shared by the batches in flight: one outage, logged once. */
  readonly #outage: DatabaseOutage;
  readonly #stages: Stage[];
  readonly #buffer: { row: EventRow; at: number }[] = [];
  readonly #capacity: number;
  readonly #itemSignal = new Signal();
  readonly #spaceSignal = new Signal();
  #subscription: Subscription | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  #intakeDone = false;

  constructor(deps: BusIngestDeps, options: BusIngestOptions) {
    this.#deps = deps;
    this.#o = options;
    this.#log = deps.logger.child({ component: "bus-ingest" });
    this.#outage = new DatabaseOutage({ metrics: deps.metrics, health: deps.health, log: this.#log });
    const stages = new Set<Stage>();
    for (const subject of options.subjects) {
      const stage = subject.split(".")[0] as Stage;
      if (!STAGES.includes(stage)) throw new TypeError(`not an event subject: ${subject}`);
      stages.add(stage);
    }
    this.#stages = [...stages];
    this.#capacity = 2 * options.batchSize;
  }

  /** What is consumed, for logs: the subject patterns stored. */
  get subjects(): readonly string[] {
    return this.#o.subjects;
  }

  /** Rows received and not yet written. */
  get buffered(): number {
    return this.#buffer.length;
  }

  async start(): Promise<void> {
    this.#deps.health?.setCheck(DATABASE_HEALTH_CHECK, true);
    this.#loop = this.#runBatches();
    this.#subscription = await this.#deps.bus.subscribe({ stage: this.#stages }, (event) =>
      this.#accept(event),
    );
  }

  /** Ends the subscription (the bus delivers what it queued for it), then writes everything in hand. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await this.#subscription?.unsubscribe();
    this.#intakeDone = true;
    this.#itemSignal.notify();
    await this.#loop;
  }

  #accept(event: StandardEvent): Promise<void> | undefined {
    const stage = stageOf(event);
    let subject: string;
    try {
      subject = subjectFor(event, stage);
    } catch (err) {
      this.#reject("malformed", errorMessage(err), event.event_id);
      return undefined;
    }
    if (!this.#o.subjects.some((pattern) => subjectMatchesPattern(subject, pattern))) return undefined;
    this.#deps.metrics.received.inc();
    let row: EventRow;
    try {
      row = eventRow(event, stage, JSON.stringify(event));
    } catch (err) {
      this.#reject("malformed", errorMessage(err), event.event_id);
      return undefined;
    }
    this.#buffer.push({ row, at: performance.now() });
    this.#deps.metrics.buffered.set(this.#buffer.length);
    if (this.#buffer.length === 1 || this.#buffer.length >= this.#o.batchSize) this.#itemSignal.notify();
    return this.#buffer.length >= this.#capacity ? this.#waitForRoom() : undefined;
  }

  async #waitForRoom(): Promise<void> {
    while (this.#buffer.length >= this.#capacity && !this.#intakeDone) await this.#spaceSignal.wait(1_000);
  }

  async #runBatches(): Promise<void> {
    for (;;) {
      this.#deps.metrics.buffered.set(this.#buffer.length);
      const oldest = this.#buffer[0];
      if (oldest === undefined) {
        if (this.#intakeDone) return;
        await this.#itemSignal.wait(1_000);
        continue;
      }
      if (this.#buffer.length < this.#o.batchSize && !this.#intakeDone) {
        const wait = this.#o.flushMs - (performance.now() - oldest.at);
        if (wait > 0) {
          await this.#itemSignal.wait(wait);
          continue;
        }
      }
      // The rows stay in the buffer while they are written, so they count against the capacity.
      const batch = this.#buffer.slice(0, this.#o.batchSize).map((b) => b.row);
      await this.#writeBatch(batch);
      this.#buffer.splice(0, batch.length);
      this.#spaceSignal.notify();
    }
  }

  async #writeBatch(rows: EventRow[]): Promise<void> {
    const started = performance.now();
    const { inserted, rejected } = await this.#storeWithRetry(rows);
    const m = this.#deps.metrics;
    m.stored.inc(inserted);
    m.duplicates.inc(rows.length - inserted - rejected);
    m.batchSize.observe(rows.length);
    m.batchSeconds.observe((performance.now() - started) / 1000);
  }

  /** Inserts the rows, retrying while the database is unavailable. */
  #storeWithRetry(rows: EventRow[]): Promise<{ inserted: number; rejected: number }> {
    return insertWithRetry({
      insert: () => this.#insertIsolating(rows),
      outage: this.#outage,
      log: this.#log,
      maxBackoffMs: this.#o.maxBackoffMs,
      logContext: { rows: rows.length },
    });
  }

  async #insertIsolating(rows: EventRow[]): Promise<{ inserted: number; rejected: number }> {
    const { stored, inserted } = await insertIsolating(
      this.#deps.store,
      rows,
      (row) => row,
      (row, err) => this.#reject("rejected", err.message, row.event_id),
      this.#log,
    );
    return { inserted, rejected: rows.length - stored.length };
  }

  #reject(reason: "malformed" | "rejected", error: string, eventId: string): void {
    this.#deps.metrics.deadLetters.inc({ reason });
    this.#log.warn({ reason, error, event_id: eventId }, "event not stored");
  }
}
