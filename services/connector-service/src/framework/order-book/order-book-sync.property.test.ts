import { createLogger } from "@market-scraper/runtime";
import { type BookOp, TrueBook, type TrueBookFault, type TrueSnapshot } from "@market-scraper/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualScheduler } from "../scheduler.js";
import { WeightRateLimiter } from "../weight-rate-limiter.js";
import { OrderBookSync } from "./order-book-sync.js";
import type { BookSnapshot, PublishedBook, ResyncReason, SequenceRules } from "./types.js";

/*
 * Random streams of book updates and injected faults (fast-check) against the engine, with rule objects
 * like Binance spot (U/u), Binance futures (pu) and Bybit (u + 1, snapshots on the stream). The fake
 * side is the testkit's TrueBook. Properties: every published book is valid and equals the true book
 * at its sequence (top N); nothing is published between a resync and the next sync; a symbol without
 * injected faults is never resynced; once the faults stop, every book syncs and the last published one
 * equals the true book.
 */

const spotRules: SequenceRules = {
  firstAfterSnapshot: (s, d) =>
    d.last <= s.sequence ? "drop" : (d.first ?? d.last) <= s.sequence + 1 ? "apply" : "gap",
  next: (last, d) => (d.last <= last.last ? "drop" : d.first === last.last + 1 ? "apply" : "gap"),
};

const futuresRules: SequenceRules = {
  firstAfterSnapshot: (s, d) =>
    d.last < s.sequence ? "drop" : (d.first ?? d.last) <= s.sequence ? "apply" : "gap",
  next: (last, d) => (d.last <= last.last ? "drop" : d.prev === last.last ? "apply" : "gap"),
};

const bybitRules: SequenceRules = {
  firstAfterSnapshot: (s, d) => (d.last <= s.sequence ? "drop" : d.last === s.sequence + 1 ? "apply" : "gap"),
  next: (last, d) => (d.last <= last.last ? "drop" : d.last === last.last + 1 ? "apply" : "gap"),
};

interface Market {
  name: string;
  rules: SequenceRules;
  /** REST snapshots (else on the stream). */
  rest: boolean;
  maxIdsPerUpdate: number;
}

const MARKETS: Market[] = [
  { name: "binance-spot-like", rules: spotRules, rest: true, maxIdsPerUpdate: 3 },
  { name: "binance-futures-like", rules: futuresRules, rest: true, maxIdsPerUpdate: 3 },
  { name: "bybit-like", rules: bybitRules, rest: false, maxIdsPerUpdate: 1 },
];

const SYMBOLS = 3;
const DEPTH = 10;
const logger = createLogger({ service: "test", level: "silent" });
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Command =
  | { kind: "update"; symbol: number; ops: BookOp[] }
  | { kind: "fault"; symbol: number; fault: TrueBookFault }
  | { kind: "disconnect"; symbol: number }
  | { kind: "serve"; symbol: number }
  | { kind: "time"; ms: number };

const op = fc.record({
  side: fc.constantFrom("bids" as const, "asks" as const),
  kind: fc.constantFrom("set" as const, "set" as const, "delete" as const),
  at: fc.nat({ max: 60 }),
  size: fc.integer({ min: 1, max: 50_000 }),
});
const symbol = fc.nat({ max: SYMBOLS - 1 });
const fault: fc.Arbitrary<TrueBookFault> = fc.oneof(
  fc.record({ kind: fc.constant("gap" as const), count: fc.integer({ min: 1, max: 3 }) }),
  fc.constant({ kind: "duplicate" as const }),
  fc.record({ kind: fc.constant("old" as const), back: fc.integer({ min: 1, max: 5 }) }),
  fc.constant({ kind: "swap" as const }),
  fc.record({ kind: fc.constant("stale_snapshot" as const), lag: fc.integer({ min: 1, max: 8 }) }),
  fc.constant({ kind: "drop" as const }),
);
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant("update" as const),
      symbol,
      ops: fc.array(op, { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("fault" as const), symbol, fault }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("disconnect" as const), symbol }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("serve" as const), symbol }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("time" as const), ms: fc.integer({ min: 1, max: 3_000 }) }),
  },
);

/** Faults that make a resync legitimate (duplicates and old updates must just be dropped). */
const RESYNC_FAULTS = new Set(["gap", "swap", "stale_snapshot", "drop"]);

interface SymbolRig {
  truth: TrueBook;
  sync: OrderBookSync;
  /** Top N of the true book after each update id. */
  states: Map<number, TrueSnapshot>;
  published: PublishedBook[];
  resyncs: ResyncReason[];
  resyncing: boolean;
  /** Published while resyncing (must stay 0). */
  violations: string[];
  legitimateResyncCauses: number;
  pendingFetch: Array<(s: BookSnapshot) => void>;
  snapshotRequested: boolean;
}

async function run(market: Market, seed: number, intervalMs: number, commands: Command[]): Promise<void> {
  const scheduler = new ManualScheduler();
  const limiter = new WeightRateLimiter({ capacity: 10, windowMs: 1_000, scheduler });
  const rigs: SymbolRig[] = [];
  for (let i = 0; i < SYMBOLS; i += 1) {
    const truth = new TrueBook({ seed: seed + i, levels: 15, maxIdsPerUpdate: market.maxIdsPerUpdate });
    const rig: SymbolRig = {
      truth,
      states: new Map([[truth.sequence, truth.top(DEPTH)]]),
      published: [],
      resyncs: [],
      resyncing: true,
      violations: [],
      legitimateResyncCauses: 0,
      pendingFetch: [],
      snapshotRequested: !market.rest,
      sync: undefined as unknown as OrderBookSync,
    };
    rig.sync = new OrderBookSync({
      source: "fake",
      symbol: `S${i}-USDT`,
      rawSymbol: `S${i}USDT`,
      rules: market.rules,
      depth: DEPTH,
      intervalMs,
      ...(market.rest
        ? {
            fetchSnapshot: () => new Promise<BookSnapshot>((resolve) => rig.pendingFetch.push(resolve)),
            limiter,
            snapshotWeight: 2,
          }
        : { requestSnapshot: () => (rig.snapshotRequested = true) }),
      publish: (book) => {
        if (rig.resyncing) rig.violations.push(`published ${book.sequence} while resyncing`);
        rig.published.push(book);
      },
      onResync: (reason) => {
        rig.resyncing = true;
        rig.resyncs.push(reason);
      },
      onSynced: () => (rig.resyncing = false),
      scheduler,
      logger,
      random: () => 0.5,
      staleAfterMs: 0,
    });
    rigs.push(rig);
  }

  const deliver = (rig: SymbolRig, emission: ReturnType<TrueBook["randomUpdate"]>): void => {
    rig.states.set(rig.truth.sequence, rig.truth.top(DEPTH));
    for (const delta of emission.deltas) rig.sync.onDelta(delta);
    if (emission.drop) disconnect(rig);
  };
  const disconnect = (rig: SymbolRig): void => {
    rig.legitimateResyncCauses += 1;
    rig.sync.onDisconnect();
    // The reconnect: a stream market sends a snapshot after resubscribing.
    if (!market.rest) rig.snapshotRequested = true;
  };
  const serve = async (rig: SymbolRig): Promise<void> => {
    await flush(); // limiter grants and fetch calls
    if (market.rest) {
      for (const resolve of rig.pendingFetch.splice(0)) resolve(rig.truth.snapshot());
    } else if (rig.snapshotRequested) {
      rig.snapshotRequested = false;
      rig.sync.onSnapshot(rig.truth.snapshot());
    }
    await flush();
  };

  for (const c of commands) {
    switch (c.kind) {
      case "update": {
        const rig = rigs[c.symbol]!;
        deliver(rig, rig.truth.updateFrom(c.ops));
        break;
      }
      case "fault": {
        const rig = rigs[c.symbol]!;
        if (RESYNC_FAULTS.has(c.fault.kind)) rig.legitimateResyncCauses += 1;
        rig.truth.script(c.fault);
        break;
      }
      case "disconnect":
        disconnect(rigs[c.symbol]!);
        break;
      case "serve":
        await serve(rigs[c.symbol]!);
        break;
      case "time":
        scheduler.advance(c.ms);
        await flush();
        break;
    }
  }

  // The faults stop: let every book converge (backoffs, snapshots, updates that consume pending faults).
  // A fault's effect shows only with the next update sent (a gap is seen when the update after it
  // arrives), so a round counts as clean when no fault was pending before its updates.
  for (let round = 0; round < 60; round += 1) {
    const clean = rigs.every((r) => r.truth.pendingFaults.length === 0 && !r.truth.holding);
    scheduler.advance(31_000);
    for (const rig of rigs) {
      await serve(rig);
      deliver(rig, rig.truth.randomUpdate());
      await serve(rig);
    }
    if (clean && rigs.every((r) => r.sync.synced)) break;
  }
  scheduler.advance(Math.max(intervalMs, 1));

  for (const [i, rig] of rigs.entries()) {
    const label = `${market.name} symbol ${i}`;
    expect(rig.violations, label).toEqual([]);
    expect(rig.sync.synced, label).toBe(true);
    for (const book of rig.published) {
      expect(book.bids.length, label).toBeLessThanOrEqual(DEPTH);
      for (let k = 1; k < book.bidsNum.length; k += 1)
        expect(book.bidsNum[k]![0]).toBeLessThan(book.bidsNum[k - 1]![0]);
      for (let k = 1; k < book.asksNum.length; k += 1)
        expect(book.asksNum[k]![0]).toBeGreaterThan(book.asksNum[k - 1]![0]);
      for (const [, size] of [...book.bidsNum, ...book.asksNum]) expect(size).toBeGreaterThan(0);
      expect(book.bidsNum[0]![0], label).toBeLessThan(book.asksNum[0]![0]);
      const truth = rig.states.get(book.sequence);
      expect({ seq: book.sequence, bids: book.bids, asks: book.asks }, label).toEqual({
        seq: book.sequence,
        bids: truth?.bids,
        asks: truth?.asks,
      });
    }
    const last = rig.published.at(-1);
    const top = rig.truth.top(DEPTH);
    expect({ seq: last?.sequence, bids: last?.bids, asks: last?.asks }, label).toEqual({
      seq: top.sequence,
      bids: top.bids,
      asks: top.asks,
    });
    if (rig.legitimateResyncCauses === 0) expect(rig.resyncs, `${label}: no faults, no resync`).toEqual([]);
  }
}

describe("OrderBookSync properties (random updates and faults against a TrueBook)", () => {
  for (const market of MARKETS) {
    it(`${market.name}: published books are valid and true, nothing during a resync, only faulty symbols resync`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.nat({ max: 1_000_000 }),
          fc.constantFrom(0, 100),
          fc.array(command, { minLength: 1, maxLength: 120 }),
          (seed, interval, commands) => run(market, seed, interval, commands),
        ),
        { numRuns: 60 },
      );
    }, 120_000);
  }
});
