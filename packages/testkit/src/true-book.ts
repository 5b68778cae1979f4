/**
 * The true L2 book an exchange fake serves: it moves by explicit or random updates, each update takes the
 * next update ids (`first`…`last`, `prev` = the id before), snapshots are taken from it, and faults are
 * scripted on what the fake *sends* (a skipped update, a duplicate, an old update re-sent, two updates
 * swapped, a stale snapshot, a dropped socket) while the true book itself stays exact. A client that
 * follows the exchange's rules must end up with `top(n)` of this book.
 */

/** `[price, size]` as decimal text; a size that is numerically 0 deletes the level. */
export type TrueLevel = readonly [price: string, size: string];

/** One update as a fake sends it (map it onto the exchange's wire format). */
export interface TrueDelta {
  /** First update id of the event (Binance `U`). */
  first: number;
  /** Last update id (Binance `u`, Bybit `u`). */
  last: number;
  /** The last id of the update before (Binance futures `pu`). */
  prev: number;
  bids: TrueLevel[];
  asks: TrueLevel[];
}

export interface TrueSnapshot {
  sequence: number;
  /** Best first. */
  bids: TrueLevel[];
  asks: TrueLevel[];
}

/** A fault in what the fake sends; queued with `script` and consumed in order. */
export type TrueBookFault =
  /** The next `count` updates change the book but are not sent (a sequence gap). Default 1. */
  | { kind: "gap"; count?: number }
  /** The next update is sent twice. */
  | { kind: "duplicate" }
  /** Before the next update, the update `back` updates before it is sent again (old, already applied). */
  | { kind: "old"; back: number }
  /** The next two updates are sent in swapped order. */
  | { kind: "swap" }
  /** The next snapshot is the book as it was `lag` updates ago (stale / out of order). */
  | { kind: "stale_snapshot"; lag: number }
  /** The fake should drop the connection at the next update (`Emission.drop`). */
  | { kind: "drop" };

/** What the fake sends for one update: `deltas` in order (none in a gap), then drops the socket if `drop`. */
export interface Emission {
  /** The update applied to the true book (sent or not). */
  update: TrueDelta;
  deltas: TrueDelta[];
  drop: boolean;
}

export interface TrueBookOptions {
  /** Update id of the initial book; default 1000. */
  startSequence?: number;
  /** Seed of the random updates (a mulberry32 PRNG); default 1. */
  seed?: number;
  /** Price step, as decimal text; default "0.01". */
  tick?: string;
  /** Initial mid price in ticks; default 10 000 (100.00 with the default tick). */
  midTicks?: number;
  /** Levels per side in the initial book; default 30. */
  levels?: number;
  /** Update ids one random update takes: 1 (Bybit-like) or up to this many (Binance-like); default 1. */
  maxIdsPerUpdate?: number;
  /** Decimals of random sizes; default 3. */
  sizeDecimals?: number;
}

/** A deterministic PRNG in [0, 1) (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One random update's intent, as fast-check can generate it (`TrueBook.updateFrom`). */
export interface BookOp {
  side: "bids" | "asks";
  /** `set` inserts or resizes a level, `delete` removes one. */
  kind: "set" | "delete";
  /** Where: for `set`, ticks away from the other side's best (0 = one tick inside it, i.e. the new best can
   *  improve the spread); for `delete`, the index of an existing level (modulo the side's size). */
  at: number;
  /** Size in units of 10^-sizeDecimals (0 is taken as 1). */
  size: number;
}

export class TrueBook {
  readonly #bids = new Map<number, { price: string; size: string }>();
  readonly #asks = new Map<number, { price: string; size: string }>();
  readonly #random: () => number;
  readonly #tickDecimals: number;
  readonly #tick: number;
  readonly #maxIds: number;
  readonly #sizeDecimals: number;
  readonly #initial: TrueSnapshot;
  /** Every update applied, oldest first (to rebuild older states and re-send old updates). */
  readonly #history: TrueDelta[] = [];
  readonly #faults: Array<Exclude<TrueBookFault, { kind: "stale_snapshot" }>> = [];
  readonly #snapshotFaults: Array<{ kind: "stale_snapshot"; lag: number }> = [];
  #held: TrueDelta | undefined;
  #sequence: number;

  constructor(options: TrueBookOptions = {}) {
    this.#random = mulberry32(options.seed ?? 1);
    const tick = options.tick ?? "0.01";
    this.#tickDecimals = tick.includes(".") ? tick.length - tick.indexOf(".") - 1 : 0;
    this.#tick = Number(tick);
    this.#maxIds = Math.max(1, options.maxIdsPerUpdate ?? 1);
    this.#sizeDecimals = options.sizeDecimals ?? 3;
    this.#sequence = options.startSequence ?? 1_000;
    const mid = options.midTicks ?? 10_000;
    const levels = options.levels ?? 30;
    for (let i = 1; i <= levels; i += 1) {
      this.#set(this.#bids, this.#priceText(mid - i), this.#randomSize());
      this.#set(this.#asks, this.#priceText(mid + i), this.#randomSize());
    }
    this.#initial = this.snapshot();
  }

  /** The id of the last update applied. */
  get sequence(): number {
    return this.#sequence;
  }

  /** Every update applied so far, oldest first. */
  get history(): readonly TrueDelta[] {
    return this.#history;
  }

  /** The best `n` levels per side, best first (what a correct local book shows at depth `n`). */
  top(n = Infinity): TrueSnapshot {
    return {
      sequence: this.#sequence,
      bids: sorted(this.#bids, true, n),
      asks: sorted(this.#asks, false, n),
    };
  }

  /**
   * A snapshot as the fake serves it, at most `limit` levels per side: the book now, or an older one when
   * a `stale_snapshot` fault is due.
   */
  snapshot(limit = Infinity): TrueSnapshot {
    const fault = this.#snapshotFaults.shift();
    if (fault !== undefined) {
      return this.at(Math.max(this.#initial.sequence, this.#sequence - fault.lag), limit);
    }
    return this.top(limit);
  }

  /** The book as it was after the update ending at `sequence` (or the initial one), rebuilt from the history. */
  at(sequence: number, limit = Infinity): TrueSnapshot {
    const bids = new Map<number, { price: string; size: string }>();
    const asks = new Map<number, { price: string; size: string }>();
    for (const [p, s] of this.#initial.bids) this.#set(bids, p, s);
    for (const [p, s] of this.#initial.asks) this.#set(asks, p, s);
    let at = this.#initial.sequence;
    for (const d of this.#history) {
      if (d.last > sequence) break;
      for (const [p, s] of d.bids) this.#set(bids, p, s);
      for (const [p, s] of d.asks) this.#set(asks, p, s);
      at = d.last;
    }
    return { sequence: at, bids: sorted(bids, true, limit), asks: sorted(asks, false, limit) };
  }

  /**
   * Queues faults: update faults apply to the next updates in order, `stale_snapshot`s to the next
   * snapshots in order.
   */
  script(...faults: TrueBookFault[]): void {
    for (const fault of faults) {
      if (fault.kind === "stale_snapshot") this.#snapshotFaults.push(fault);
      else this.#faults.push(fault);
    }
  }

  /** True while a `swap` holds an update back (it goes out after the next update sent). */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  /** Faults not yet consumed (update faults, then snapshot faults). */
  get pendingFaults(): readonly TrueBookFault[] {
    return [...this.#faults, ...this.#snapshotFaults];
  }

  /**
   * Applies explicit changes as one update taking `ids` update ids (default 1), and says what to send.
   * The caller keeps the book uncrossed (`update` does not check).
   */
  update(bids: readonly TrueLevel[], asks: readonly TrueLevel[], ids = 1): Emission {
    const prev = this.#sequence;
    const delta: TrueDelta = {
      first: prev + 1,
      last: prev + Math.max(1, ids),
      prev,
      bids: bids.map(([p, s]) => [p, s] as const),
      asks: asks.map(([p, s]) => [p, s] as const),
    };
    for (const [p, s] of delta.bids) this.#set(this.#bids, p, s);
    for (const [p, s] of delta.asks) this.#set(this.#asks, p, s);
    this.#sequence = delta.last;
    this.#history.push(delta);
    return this.#emit(delta);
  }

  /** One random update of 1-4 changes (inserts, resizes, deletes; never crossing the book). */
  randomUpdate(): Emission {
    const ops: BookOp[] = [];
    const count = 1 + Math.floor(this.#random() * 4);
    for (let i = 0; i < count; i += 1) {
      ops.push({
        side: this.#random() < 0.5 ? "bids" : "asks",
        kind: this.#random() < 0.3 ? "delete" : "set",
        at: Math.floor(this.#random() * 12),
        size: 1 + Math.floor(this.#random() * 10 ** (this.#sizeDecimals + 1)),
      });
    }
    return this.updateFrom(ops);
  }

  /**
   * One update from generated intents (fast-check), turned into levels that keep the book uncrossed:
   * a `set` lands `at` ticks behind the other side's best; a `delete` removes an existing level (none
   * when the side has at most one level left, so the book keeps a top).
   */
  updateFrom(ops: readonly BookOp[]): Emission {
    const bids: TrueLevel[] = [];
    const asks: TrueLevel[] = [];
    // Work on copies so several ops in one update see each other's effect.
    const side = { bids: new Map(this.#bids), asks: new Map(this.#asks) };
    for (const op of ops) {
      const own = side[op.side];
      const out = op.side === "bids" ? bids : asks;
      if (op.kind === "delete") {
        if (own.size <= 1) continue;
        const keys = [...own.keys()];
        const key = keys[Math.abs(Math.trunc(op.at)) % keys.length]!;
        const level = own.get(key)!;
        own.delete(key);
        out.push([level.price, "0"]);
        continue;
      }
      const otherBest = bestTicks(op.side === "bids" ? side.asks : side.bids, op.side === "asks", this.#tick);
      const ownBest = bestTicks(own, op.side === "bids", this.#tick);
      const anchor = otherBest ?? (ownBest === undefined ? 10_000 : ownBest + (op.side === "bids" ? 1 : -1));
      const offset = 1 + (Math.abs(Math.trunc(op.at)) % 40);
      const ticks = op.side === "bids" ? anchor - offset : anchor + offset;
      if (ticks <= 0) continue;
      const price = this.#priceText(ticks);
      const size = this.#sizeText(Math.max(1, Math.trunc(Math.abs(op.size))));
      own.set(Number(price), { price, size });
      out.push([price, size]);
    }
    const ids = this.#maxIds === 1 ? 1 : 1 + Math.floor(this.#random() * this.#maxIds);
    return this.update(bids, asks, ids);
  }

  #emit(delta: TrueDelta): Emission {
    const deltas: TrueDelta[] = [];
    let drop = false;
    let consumed = true;
    const fault = this.#faults[0];
    switch (fault?.kind) {
      case "gap": {
        const left = (fault.count ?? 1) - 1;
        if (left > 0) this.#faults[0] = { kind: "gap", count: left };
        else this.#faults.shift();
        consumed = false;
        break;
      }
      case "duplicate":
        this.#faults.shift();
        deltas.push(delta, delta);
        break;
      case "old": {
        this.#faults.shift();
        const old = this.#history[this.#history.length - 1 - Math.max(1, fault.back)];
        if (old !== undefined) deltas.push(old);
        deltas.push(delta);
        break;
      }
      case "swap":
        this.#faults.shift();
        this.#held = delta;
        consumed = false;
        break;
      case "drop":
        this.#faults.shift();
        deltas.push(delta);
        drop = true;
        break;
      case undefined:
        deltas.push(delta);
        break;
    }
    // A held (swapped) update goes out after the next one that is sent.
    if (consumed && this.#held !== undefined && this.#held !== delta) {
      deltas.push(this.#held);
      this.#held = undefined;
    }
    return { update: delta, deltas, drop };
  }

  #set(side: Map<number, { price: string; size: string }>, price: string, size: string): void {
    const key = Number(price);
    if (Number(size) === 0) side.delete(key);
    else side.set(key, { price, size });
  }

  #priceText(ticks: number): string {
    return (ticks * this.#tick).toFixed(this.#tickDecimals);
  }

  #sizeText(units: number): string {
    return (units / 10 ** this.#sizeDecimals).toFixed(this.#sizeDecimals);
  }

  #randomSize(): string {
    return this.#sizeText(1 + Math.floor(this.#random() * 10 ** (this.#sizeDecimals + 1)));
  }
}

function sorted(
  side: Map<number, { price: string; size: string }>,
  descending: boolean,
  limit: number,
): TrueLevel[] {
  const keys = [...side.keys()].sort((a, b) => (descending ? b - a : a - b));
  const out: TrueLevel[] = [];
  for (const key of keys) {
    if (out.length >= limit) break;
    const level = side.get(key)!;
    out.push([level.price, level.size]);
  }
  return out;
}

function bestTicks(
  side: Map<number, { price: string; size: string }>,
  highest: boolean,
  tick: number,
): number | undefined {
  let best: number | undefined;
  for (const key of side.keys()) if (best === undefined || (highest ? key > best : key < best)) best = key;
  return best === undefined ? undefined : Math.round(best / tick);
}
