import { createLogger } from "@market-scraper/runtime";
import { describe, expect, it } from "vitest";
import { ManualScheduler } from "../scheduler.js";
import { OrderBookSync, type OrderBookSyncOptions } from "./order-book-sync.js";
import type { BookDelta, BookSnapshot, PublishedBook, ResyncReason, SequenceRules } from "./types.js";

/** Binance-spot-like rules (U/u): the exchange engineers write the real ones. */
const spotRules: SequenceRules = {
  firstAfterSnapshot(snapshot, delta) {
    if (delta.last <= snapshot.sequence) return "drop";
    return (delta.first ?? delta.last) <= snapshot.sequence + 1 ? "apply" : "gap";
  },
  next(last, delta) {
    if (delta.last <= last.last) return "drop";
    return delta.first === last.last + 1 ? "apply" : "gap";
  },
};

/** Bybit-like rules: stream snapshots, `u` + 1 per delta. */
const streamRules: SequenceRules = {
  firstAfterSnapshot: (snapshot, delta) =>
    delta.last <= snapshot.sequence ? "drop" : delta.last === snapshot.sequence + 1 ? "apply" : "gap",
  next: (last, delta) => (delta.last <= last.last ? "drop" : delta.last === last.last + 1 ? "apply" : "gap"),
};

const logger = createLogger({ service: "test", level: "silent" });

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function harness(over: Partial<OrderBookSyncOptions> & { stream?: boolean } = {}) {
  const { stream, ...rest } = over;
  const scheduler = new ManualScheduler();
  const published: PublishedBook[] = [];
  const resyncs: Array<{ reason: ResyncReason; detail: string }> = [];
  const synced: number[] = [];
  const fetches: Array<ReturnType<typeof deferred<BookSnapshot>>> = [];
  const sync = new OrderBookSync({
    source: "fake",
    symbol: "BTC-USDT",
    rawSymbol: "BTCUSDT",
    rules: spotRules,
    depth: 3,
    intervalMs: 0,
    ...(stream === true
      ? {}
      : {
          fetchSnapshot: () => {
            const d = deferred<BookSnapshot>();
            fetches.push(d);
            return d.promise;
          },
        }),
    publish: (b) => published.push(b),
    onResync: (reason, detail) => resyncs.push({ reason, detail }),
    onSynced: (s) => synced.push(s),
    scheduler,
    logger,
    random: () => 0,
    ...rest,
  });
  return { sync, scheduler, published, resyncs, synced, fetches };
}

const delta = (
  first: number,
  last: number,
  bids: BookDelta["bids"] = [],
  asks: BookDelta["asks"] = [],
): BookDelta => ({
  first,
  last,
  bids,
  asks,
});
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("OrderBookSync (REST snapshot + buffered deltas)", () => {
  it("buffers deltas while the snapshot is fetched, drops the older ones and applies the rest", async () => {
    const h = harness();
    h.sync.onDelta(delta(99, 100, [["9", "1"]]));
    h.sync.onDelta(delta(101, 102, [["10", "2"]]));
    expect(h.fetches).toHaveLength(1);
    expect(h.sync.state).toBe("fetching");
    h.sync.onDelta(delta(103, 103, [], [["12", "0"]]));
    h.fetches[0]!.resolve({
      sequence: 101,
      bids: [["8", "1"]],
      asks: [
        ["11", "1"],
        ["12", "3"],
      ],
    });
    await flush();
    expect(h.sync.state).toBe("synced");
    expect(h.synced).toEqual([103]);
    expect(h.published).toHaveLength(1);
    expect(h.published[0]).toMatchObject({
      sequence: 103,
      bids: [
        ["10", "2"],
        ["8", "1"],
      ],
      asks: [["11", "1"]],
      bidsNum: [
        [10, 2],
        [8, 1],
      ],
    });
    h.sync.onDelta(delta(104, 104, [["10", "0"]]));
    expect(h.published.at(-1)!.bids).toEqual([["8", "1"]]);
  });

  it("a gap drops the book, publishes nothing until the new snapshot, and replays the deltas from the gap", async () => {
    const h = harness();
    h.sync.onDelta(delta(1, 1));
    h.fetches[0]!.resolve({ sequence: 1, bids: [["1", "1"]], asks: [["2", "1"]] });
    await flush();
    const before = h.published.length;
    h.sync.onDelta(delta(5, 5, [["1.5", "1"]]));
    expect(h.resyncs.map((r) => r.reason)).toEqual(["gap"]);
    h.sync.onDelta(delta(6, 6, [["1.6", "1"]]));
    expect(h.published.length).toBe(before);
    // The second snapshot in a short time waits for the backoff (500 ms with no jitter).
    expect(h.sync.state).toBe("backoff");
    h.scheduler.advance(499);
    expect(h.fetches).toHaveLength(1);
    h.scheduler.advance(1);
    expect(h.fetches).toHaveLength(2);
    h.fetches[1]!.resolve({
      sequence: 5,
      bids: [
        ["1.5", "1"],
        ["1", "1"],
      ],
      asks: [["2", "1"]],
    });
    await flush();
    expect(h.published.at(-1)).toMatchObject({
      sequence: 6,
      bids: [
        ["1.6", "1"],
        ["1.5", "1"],
        ["1", "1"],
      ],
    });
  });
});

describe("OrderBookSync (stream snapshots)", () => {
  it("builds the book from a pushed snapshot, resets on the next one, and asks for one after a gap", () => {
    let requested = 0;
    const s = harness({ rules: streamRules, stream: true, requestSnapshot: () => (requested += 1) });
    s.sync.onDelta({ last: 10, bids: [["5", "1"]], asks: [] });
    expect(s.sync.state).toBe("waiting");
    s.sync.onSnapshot({ sequence: 10, bids: [["4", "1"]], asks: [["6", "1"]] });
    expect(s.published.at(-1)).toMatchObject({ sequence: 10, bids: [["4", "1"]] });
    s.sync.onDelta({ last: 11, bids: [["5", "2"]], asks: [] });
    expect(s.published.at(-1)).toMatchObject({
      sequence: 11,
      bids: [
        ["5", "2"],
        ["4", "1"],
      ],
    });
    s.sync.onDelta({ last: 13, bids: [["5.5", "2"]], asks: [] });
    expect(s.resyncs.map((r) => r.reason)).toEqual(["gap"]);
    expect(requested).toBe(1);
    expect(s.published.at(-1)!.sequence).toBe(11);
    s.sync.onSnapshot({ sequence: 1, bids: [["3", "1"]], asks: [["7", "1"]] });
    expect(s.published.at(-1)).toMatchObject({ sequence: 1, bids: [["3", "1"]], asks: [["7", "1"]] });
    expect(s.fetches).toHaveLength(0);
  });
});
