import { describe, expect, it } from "vitest";
import { TrueBook, type TrueLevel } from "./true-book.js";

/** Applies deltas to a plain map book, as a naive client would. */
function replay(
  start: { bids: readonly TrueLevel[]; asks: readonly TrueLevel[] },
  deltas: Array<{ bids: readonly TrueLevel[]; asks: readonly TrueLevel[] }>,
) {
  const bids = new Map(start.bids.map(([p, s]) => [Number(p), [p, s] as TrueLevel]));
  const asks = new Map(start.asks.map(([p, s]) => [Number(p), [p, s] as TrueLevel]));
  for (const d of deltas) {
    for (const [p, s] of d.bids)
      if (Number(s) === 0) bids.delete(Number(p));
      else bids.set(Number(p), [p, s]);
    for (const [p, s] of d.asks)
      if (Number(s) === 0) asks.delete(Number(p));
      else asks.set(Number(p), [p, s]);
  }
  return {
    bids: [...bids.entries()].sort((a, b) => b[0] - a[0]).map(([, l]) => l),
    asks: [...asks.entries()].sort((a, b) => a[0] - b[0]).map(([, l]) => l),
  };
}

describe("TrueBook", () => {
  it("starts with sorted sides and moves by random updates that chain ids and never cross", () => {
    const book = new TrueBook({ seed: 7, maxIdsPerUpdate: 3 });
    const start = book.snapshot();
    expect(start.sequence).toBe(1000);
    expect(start.bids[0]).toEqual(["99.99", expect.any(String)]);
    expect(start.asks[0]).toEqual(["100.01", expect.any(String)]);
    const sent = [];
    let prev = book.sequence;
    for (let i = 0; i < 500; i += 1) {
      const e = book.randomUpdate();
      expect(e.deltas).toEqual([e.update]);
      expect(e.update.first).toBe(prev + 1);
      expect(e.update.prev).toBe(prev);
      expect(e.update.last).toBeGreaterThanOrEqual(e.update.first);
      prev = e.update.last;
      sent.push(e.update);
      const top = book.top(1);
      expect(Number(top.bids[0]![0])).toBeLessThan(Number(top.asks[0]![0]));
    }
    expect(replay(start, sent)).toEqual({ bids: book.top().bids, asks: book.top().asks });
    expect(book.top(5).bids).toHaveLength(5);
  });

  it("is deterministic per seed", () => {
    const a = new TrueBook({ seed: 3 });
    const b = new TrueBook({ seed: 3 });
    for (let i = 0; i < 50; i += 1) expect(a.randomUpdate()).toEqual(b.randomUpdate());
  });

  it("scripts faults on what is sent while the true book stays exact", () => {
    const book = new TrueBook({ seed: 2 });
    book.script(
      { kind: "gap", count: 2 },
      { kind: "duplicate" },
      { kind: "old", back: 2 },
      { kind: "swap" },
      { kind: "drop" },
    );
    const g1 = book.randomUpdate();
    const g2 = book.randomUpdate();
    expect(g1.deltas).toEqual([]);
    expect(g2.deltas).toEqual([]);
    const dup = book.randomUpdate();
    expect(dup.deltas).toEqual([dup.update, dup.update]);
    const old = book.randomUpdate();
    expect(old.deltas).toEqual([g2.update, old.update]);
    const held = book.randomUpdate();
    expect(held.deltas).toEqual([]);
    const dropped = book.randomUpdate();
    expect(dropped.deltas).toEqual([dropped.update, held.update]);
    expect(dropped.drop).toBe(true);
    expect(book.pendingFaults).toEqual([]);
    expect(book.history).toHaveLength(6);
  });

  it("serves a stale snapshot when scripted, rebuilt from the history", () => {
    const book = new TrueBook({ seed: 5 });
    const states = [book.top()];
    for (let i = 0; i < 10; i += 1) {
      book.randomUpdate();
      states.push(book.top());
    }
    book.script({ kind: "stale_snapshot", lag: 4 });
    expect(book.snapshot()).toEqual(states[6]);
    expect(book.snapshot(3)).toEqual({
      ...states[10],
      bids: states[10]!.bids.slice(0, 3),
      asks: states[10]!.asks.slice(0, 3),
    });
    expect(book.at(0)).toEqual(states[0]);
  });

  it("applies explicit updates, a zero size in any spelling deleting the level", () => {
    const book = new TrueBook({ levels: 2 });
    const e = book.update([["99.99", "0.000"]], [["100.50", "1.5"]], 3);
    expect(e.update).toMatchObject({ first: 1001, last: 1003, prev: 1000 });
    expect(book.top().bids.map(([p]) => p)).toEqual(["99.98"]);
    expect(book.top().asks.map(([p]) => p)).toEqual(["100.01", "100.02", "100.50"]);
  });
});
