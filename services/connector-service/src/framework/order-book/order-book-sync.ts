import { type BackoffOptions, backoffDelay } from "@market-scraper/bus";
import type { Logger } from "@market-scraper/runtime";
import { describeError } from "../connector-error.js";
import { type ConnectorMetrics, noopConnectorMetrics } from "../connector-metrics.js";
import { type Scheduler, type TimerHandle, systemScheduler } from "../scheduler.js";
import { type BookProblem, LocalBook } from "./local-book.js";
import type {
  BookDelta,
  BookSnapshot,
  BookView,
  PublishedBook,
  ResyncReason,
  SequenceRules,
  SequenceVerdict,
} from "./types.js";

/** The weight budget snapshots wait on (a `WeightRateLimiter`). */
export interface SnapshotLimiter {
  acquire(weight: number): Promise<void>;
}

/**
 * - `waiting`: no book; deltas are buffered until a snapshot arrives (pushed on the stream, or fetched
 *   once the first delta is buffered);
 * - `backoff`: no book; a snapshot fetch (or request) is due after a backoff delay;
 * - `fetching`: no book; a snapshot is being fetched, deltas are buffered;
 * - `synced`: the book is valid and published;
 * - `closed`.
 */
export type BookSyncState = "waiting" | "backoff" | "fetching" | "synced" | "closed";

export interface OrderBookSyncOptions {
  /** The connector's name (the events' `source`). */
  source: string;
  /** Normalized symbol (`BTC-USDT`). */
  symbol: string;
  /** The exchange's name of the instrument (`BTCUSDT`). */
  rawSymbol: string;
  rules: SequenceRules;
  /** Levels per side published. */
  depth: number;
  /** At most one publish per this many ms (the final state always follows); 0 = every update. */
  intervalMs: number;
  /** Fetches a snapshot (REST). Absent: snapshots arrive on the stream via `onSnapshot`. */
  fetchSnapshot?: () => Promise<BookSnapshot>;
  /** Stream snapshots: asks the exchange for a fresh one (e.g. resubscribes) when the book must resync. */
  requestSnapshot?: () => void;
  /** Each snapshot fetch first takes `snapshotWeight` from this budget (so many resyncs queue). */
  limiter?: SnapshotLimiter;
  /** Weight of one snapshot fetch; default 1. */
  snapshotWeight?: number;
  publish: (book: PublishedBook) => void;
  /** The book was dropped and is being rebuilt (nothing is published until it is). */
  onResync: (reason: ResyncReason, detail: string) => void;
  /** The book is valid again (after the first snapshot or a resync). */
  onSynced?: (sequence: number) => void;
  scheduler?: Scheduler;
  metrics?: ConnectorMetrics;
  logger: Logger;
  /** A synced book with no delta for this long is resynced (`stale`); 0 or absent = never. */
  staleAfterMs?: number;
  /** Deltas kept while there is no book (the oldest go first); default 10 000. */
  maxBuffer?: number;
  /** Backoff of repeated resyncs (the first is immediate); defaults of `backoffDelay`. */
  backoff?: BackoffOptions;
  random?: () => number;
  /** A book in sync this long resets the backoff (the next resync is immediate); default 10 s. */
  backoffResetMs?: number;
}

/**
 * The local L2 book of one (source, symbol), kept in sync with the exchange by its own sequencing rules:
 * a snapshot (REST or stream) plus deltas buffered while it arrives, replayed by `firstAfterSnapshot`
 * then `next`. A gap, a failed check, a crossed or malformed book, a stale stream or a lost connection
 * drops the book and resyncs this symbol only, with backoff when it repeats and snapshot fetches through
 * the connector's rate limiter. Nothing is published from the moment the book is dropped until it is
 * valid again; a valid book is published at most once per `intervalMs` (leading and trailing edge: the
 * final state always goes out).
 */
export class OrderBookSync {
  readonly #o: OrderBookSyncOptions;
  readonly #scheduler: Scheduler;
  readonly #metrics: ConnectorMetrics;
  readonly #logger: Logger;
  readonly #book = new LocalBook();
  readonly #maxBuffer: number;
  #state: BookSyncState = "waiting";
  #buffer: BookDelta[] = [];
  /** Bumped whenever the book is dropped: a fetch started before answers into nothing. */
  #generation = 0;
  #snapshot: BookSnapshot | undefined;
  /** The last delta applied, or undefined right after a snapshot (the next one is a first delta). */
  #lastApplied: BookDelta | undefined;
  #time = 0;
  #attempt = 0;
  #syncedAt = 0;
  #retryTimer: TimerHandle | undefined;
  #lastDeltaAt = 0;
  #staleTimer: TimerHandle | undefined;
  #conflationTimer: TimerHandle | undefined;
  #dirty = false;
  #lastPublishAt = Number.NEGATIVE_INFINITY;
  #published = 0;

  constructor(options: OrderBookSyncOptions) {
    this.#o = options;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#metrics = options.metrics ?? noopConnectorMetrics;
    this.#logger = options.logger.child({ component: "order-book", symbol: options.symbol });
    this.#maxBuffer = options.maxBuffer ?? 10_000;
  }

  get state(): BookSyncState {
    return this.#state;
  }

  get synced(): boolean {
    return this.#state === "synced";
  }

  /** The local book (valid only while `synced`). */
  get book(): BookView {
    return this.#book;
  }

  /** Deltas buffered while there is no book. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Books published so far. */
  get published(): number {
    return this.#published;
  }

  /** One delta from the stream: applied when the book is synced, buffered while it is not. */
  onDelta(delta: BookDelta): void {
    switch (this.#state) {
      case "synced":
        this.#lastDeltaAt = this.#scheduler.now();
        this.#step(delta, false);
        return;
      case "closed":
        return;
      case "waiting":
        this.#push(delta);
        // REST snapshots are fetched once a delta is buffered, so the snapshot is newer than it.
        if (this.#o.fetchSnapshot !== undefined) this.#scheduleSnapshot();
        return;
      case "backoff":
      case "fetching":
        this.#push(delta);
        return;
    }
  }

  /**
   * A snapshot pushed on the stream (Bybit `snapshot`, also a reset): replaces the book. What was
   * buffered came before it on the same stream, so it is superseded and dropped.
   */
  onSnapshot(snapshot: BookSnapshot): void {
    if (this.#state === "closed") return;
    this.#buffer = [];
    this.#generation += 1;
    this.#scheduler.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#applySnapshot(snapshot);
  }

  /** The connection is lost: the book is invalid until the next snapshot after the reconnect. */
  onDisconnect(): void {
    if (this.#state === "closed") return;
    const wasWaiting = this.#state === "waiting";
    this.#drop();
    this.#buffer = [];
    this.#state = "waiting";
    if (!wasWaiting) this.#report("reconnect", "connection lost");
  }

  /** Drops the book and rebuilds it from a fresh snapshot (also for checks the connector makes). */
  resync(reason: ResyncReason, detail = reason): void {
    if (this.#state === "closed") return;
    this.#drop();
    this.#buffer = [];
    this.#report(reason, detail);
    this.#scheduleSnapshot();
  }

  close(): void {
    this.#drop();
    this.#buffer = [];
    this.#state = "closed";
  }

  #push(delta: BookDelta): void {
    if (this.#buffer.length >= this.#maxBuffer) this.#buffer.shift();
    this.#buffer.push(delta);
  }

  /** Forgets the book and anything about to be published from it. */
  #drop(): void {
    this.#generation += 1;
    this.#book.clear();
    this.#snapshot = undefined;
    this.#lastApplied = undefined;
    this.#dirty = false;
    for (const timer of [this.#retryTimer, this.#staleTimer, this.#conflationTimer])
      this.#scheduler.clearTimeout(timer);
    this.#retryTimer = undefined;
    this.#staleTimer = undefined;
    this.#conflationTimer = undefined;
  }

  #report(reason: ResyncReason, detail: string): void {
    this.#metrics.bookResync(this.#o.source, reason);
    this.#logger.info({ reason, detail }, `order book ${this.#o.symbol} resync: ${reason}`);
    this.#o.onResync(reason, detail);
  }

  /** The next snapshot: now on the first resync, after a growing backoff when they repeat. */
  #scheduleSnapshot(): void {
    const now = this.#scheduler.now();
    if (this.#syncedAt > 0 && now - this.#syncedAt >= (this.#o.backoffResetMs ?? 10_000)) this.#attempt = 0;
    this.#syncedAt = 0;
    this.#attempt += 1;
    const delay = this.#attempt <= 1 ? 0 : backoffDelay(this.#attempt - 1, this.#o.backoff, this.#o.random);
    const generation = this.#generation;
    if (delay <= 0) {
      this.#requestSnapshot(generation);
      return;
    }
    this.#state = "backoff";
    this.#retryTimer = this.#scheduler.setTimeout(() => {
      this.#retryTimer = undefined;
      if (generation === this.#generation) this.#requestSnapshot(generation);
    }, delay);
  }

  #requestSnapshot(generation: number): void {
    const fetchSnapshot = this.#o.fetchSnapshot;
    if (fetchSnapshot === undefined) {
      this.#state = "waiting";
      this.#o.requestSnapshot?.();
      return;
    }
    this.#state = "fetching";
    void this.#fetch(fetchSnapshot, generation);
  }

  async #fetch(fetchSnapshot: () => Promise<BookSnapshot>, generation: number): Promise<void> {
    let snapshot: BookSnapshot;
    try {
      if (this.#o.limiter !== undefined) {
        await this.#o.limiter.acquire(this.#o.snapshotWeight ?? 1);
        if (generation !== this.#generation) return;
      }
      snapshot = await fetchSnapshot();
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#drop();
      this.#report("snapshot_failed", describeError(error));
      this.#scheduleSnapshot();
      return;
    }
    if (generation !== this.#generation) return;
    this.#applySnapshot(snapshot);
  }

  /** Loads a snapshot and replays the buffer onto it; the book is synced if all of that holds. */
  #applySnapshot(snapshot: BookSnapshot): void {
    this.#drop();
    const problem = this.#book.load(snapshot.sequence, snapshot.bids, snapshot.asks);
    if (problem !== undefined) {
      this.#buffer = [];
      this.#fail(problem.kind, `snapshot ${snapshot.sequence}: ${problem.detail}`);
      return;
    }
    this.#snapshot = snapshot;
    this.#time = snapshot.exchangeTime ?? this.#scheduler.now();
    this.#state = "synced";
    const buffer = this.#buffer;
    this.#buffer = [];
    for (let i = 0; i < buffer.length; i += 1) {
      const outcome = this.#step(buffer[i]!, true);
      if (outcome === "ok") continue;
      // The deltas after the failure stay buffered for the next snapshot (from the gap on: the next
      // snapshot may connect to it; after a bad one: it is not applied again).
      for (let j = outcome === "gap" ? i : i + 1; j < buffer.length; j += 1) this.#push(buffer[j]!);
      return;
    }
    const now = this.#scheduler.now();
    this.#syncedAt = now;
    this.#lastDeltaAt = now;
    this.#armStale();
    this.#logger.debug({ sequence: this.#book.sequence }, `order book ${this.#o.symbol} in sync`);
    this.#o.onSynced?.(this.#book.sequence);
    this.#changed();
  }

  /**
   * One delta on a synced book: `ok` (applied or dropped), or the book was dropped (`gap`: a live delta
   * is kept in the buffer of the resync; `failed`: a bad update or book).
   */
  #step(delta: BookDelta, replaying: boolean): "ok" | "gap" | "failed" {
    const last = this.#lastApplied;
    const verdict: SequenceVerdict =
      last === undefined
        ? this.#o.rules.firstAfterSnapshot(this.#snapshot!, delta)
        : this.#o.rules.next(last, delta);
    if (verdict === "drop") return "ok";
    if (verdict === "gap") {
      const expected = last === undefined ? `snapshot ${this.#snapshot!.sequence}` : `after ${last.last}`;
      const got = delta.first === undefined ? `${delta.last}` : `${delta.first}..${delta.last}`;
      this.#drop();
      this.#buffer = [];
      if (!replaying) this.#push(delta);
      this.#report("gap", `update ${got} does not follow ${expected}`);
      this.#scheduleSnapshot();
      return "gap";
    }
    const problem: BookProblem | undefined = this.#book.apply(delta.last, delta.bids, delta.asks);
    if (problem !== undefined) {
      this.#fail(problem.kind, problem.detail);
      return "failed";
    }
    if (this.#o.rules.verify !== undefined && !this.#o.rules.verify(this.#book, delta)) {
      this.#fail("checksum", `checksum mismatch after update ${delta.last}`);
      return "failed";
    }
    this.#lastApplied = delta;
    this.#time = delta.exchangeTime ?? this.#scheduler.now();
    if (!replaying) this.#changed();
    return "ok";
  }

  #fail(reason: ResyncReason, detail: string): void {
    this.#drop();
    this.#buffer = [];
    this.#report(reason, detail);
    this.#scheduleSnapshot();
  }

  #armStale(): void {
    const after = this.#o.staleAfterMs ?? 0;
    if (after <= 0) return;
    this.#scheduler.clearTimeout(this.#staleTimer);
    this.#staleTimer = this.#scheduler.setTimeout(
      () => {
        this.#staleTimer = undefined;
        if (this.#state !== "synced") return;
        const quiet = this.#scheduler.now() - this.#lastDeltaAt;
        if (quiet >= after) this.#fail("stale", `no update for ${quiet} ms`);
        else this.#armStale();
      },
      Math.max(1, this.#lastDeltaAt + after - this.#scheduler.now()),
    );
  }

  /** The book changed: publish now, or at the end of the conflation interval. */
  #changed(): void {
    const interval = this.#o.intervalMs;
    if (interval <= 0) {
      this.#emit();
      return;
    }
    if (this.#conflationTimer !== undefined) {
      this.#dirty = true;
      return;
    }
    const now = this.#scheduler.now();
    const wait = this.#lastPublishAt + interval - now;
    if (wait <= 0) {
      this.#emit();
      this.#armConflation(interval);
    } else {
      this.#dirty = true;
      this.#armConflation(wait);
    }
  }

  #armConflation(ms: number): void {
    this.#conflationTimer = this.#scheduler.setTimeout(() => {
      this.#conflationTimer = undefined;
      if (!this.#dirty || this.#state !== "synced") return;
      this.#emit();
      this.#armConflation(this.#o.intervalMs);
    }, ms);
  }

  #emit(): void {
    this.#dirty = false;
    const book = this.#book;
    // No top of book to report with an empty side; the next update that fills it is published.
    if (book.bids.size === 0 || book.asks.size === 0) return;
    const depth = this.#o.depth;
    this.#lastPublishAt = this.#scheduler.now();
    this.#published += 1;
    this.#o.publish({
      source: this.#o.source,
      symbol: this.#o.symbol,
      rawSymbol: this.#o.rawSymbol,
      sequence: book.sequence,
      time: this.#time,
      bids: book.bids.top(depth),
      asks: book.asks.top(depth),
      bidsNum: book.bids.topNumbers(depth),
      asksNum: book.asks.topNumbers(depth),
    });
  }
}
