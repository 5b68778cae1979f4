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

/** A synced REST-mode harness at sequence 1 with bid 1 / ask 2. */
async function syncedHarness(over: Partial<OrderBookSyncOptions> = {}) {
  const h = harness(over);
  h.sync.onDelta(delta(1, 1));
  h.fetches[0]!.resolve({ sequence: 1, bids: [["1", "1"]], asks: [["2", "1"]] });
  await flush();
  expect(h.sync.state).toBe("synced");
  return h;
}

describe("OrderBookSync conflation", () => {
  it("publishes at most once per interval, the first change at once and the final state at the end", async () => {
    const h = await syncedHarness({ intervalMs: 100 });
    expect(h.published).toHaveLength(1); // the synced book, at once
    for (let i = 2; i <= 10; i += 1) h.sync.onDelta(delta(i, i, [["1", String(i)]]));
    expect(h.published).toHaveLength(1);
    h.scheduler.advance(100);
    expect(h.published).toHaveLength(2);
    expect(h.published[1]).toMatchObject({ sequence: 10, bids: [["1", "10"]] });
    // Quiet: nothing more, and the next change after a quiet interval goes out at once.
    h.scheduler.advance(1_000);
    expect(h.published).toHaveLength(2);
    h.sync.onDelta(delta(11, 11, [["1", "11"]]));
    expect(h.published).toHaveLength(3);
    h.sync.onDelta(delta(12, 12, [["1", "12"]]));
    h.scheduler.advance(99);
    expect(h.published).toHaveLength(3);
    h.scheduler.advance(1);
    expect(h.published.at(-1)).toMatchObject({ sequence: 12 });
    const times = h.published.map((b) => b.sequence);
    expect(times).toEqual([1, 10, 11, 12]);
  });

  it("publishes every update with interval 0, and only the top `depth` levels", async () => {
    const h = await syncedHarness();
    h.sync.onDelta(
      delta(2, 2, [
        ["0.9", "1"],
        ["0.8", "1"],
        ["0.7", "1"],
      ]),
    );
    h.sync.onDelta(delta(3, 3, [], [["3", "1"]]));
    expect(h.published.map((b) => b.sequence)).toEqual([1, 2, 3]);
    expect(h.published.at(-1)!.bids).toEqual([
      ["1", "1"],
      ["0.9", "1"],
      ["0.8", "1"],
    ]);
  });

  it("drops a pending trailing publish when the book is dropped: nothing goes out between a gap and the resync", async () => {
    const h = await syncedHarness({ intervalMs: 100 });
    h.sync.onDelta(delta(2, 2, [["1", "2"]])); // conflated: pending
    h.sync.onDelta(delta(9, 9)); // gap
    h.scheduler.advance(10_000);
    expect(h.published).toHaveLength(1);
    expect(h.resyncs.map((r) => r.reason)).toEqual(["gap"]);
  });
});

describe("OrderBookSync resyncs", () => {
  it("a crossed book resyncs with reason crossed and publishes nothing of it", async () => {
    const h = await syncedHarness();
    h.sync.onDelta(delta(2, 2, [["2.5", "1"]]));
    expect(h.resyncs).toEqual([{ reason: "crossed", detail: expect.stringContaining("best bid 2.5") }]);
    expect(h.published.map((b) => b.sequence)).toEqual([1]);
    // In sync for less than backoffResetMs: the snapshot waits for the backoff.
    expect(h.sync.state).toBe("backoff");
  });

  it("a malformed level resyncs with reason invalid; a failed check with reason checksum", async () => {
    const h = await syncedHarness();
    h.sync.onDelta(delta(2, 2, [["x", "1"]]));
    expect(h.resyncs.map((r) => r.reason)).toEqual(["invalid"]);
    let ok = true;
    const c = await syncedHarness({ rules: { ...spotRules, verify: () => ok } });
    ok = false;
    c.sync.onDelta(delta(2, 2, [["1", "3"]]));
    expect(c.resyncs.map((r) => r.reason)).toEqual(["checksum"]);
    expect(c.published.map((b) => b.sequence)).toEqual([1]);
  });

  it("a stale stream resyncs after staleAfterMs without an update", async () => {
    const h = await syncedHarness({ staleAfterMs: 5_000 });
    h.scheduler.advance(4_000);
    h.sync.onDelta(delta(2, 2));
    h.scheduler.advance(4_000);
    h.sync.onDelta(delta(3, 3));
    h.scheduler.advance(4_999);
    expect(h.resyncs).toEqual([]);
    h.scheduler.advance(1);
    expect(h.resyncs.map((r) => r.reason)).toEqual(["stale"]);
    expect(h.sync.state).toBe("fetching"); // synced for > 10 s (backoff reset): at once
  });

  it("a disconnect drops the book; the next delta after the reconnect fetches a snapshot", async () => {
    const h = await syncedHarness();
    h.sync.onDisconnect();
    h.sync.onDisconnect();
    expect(h.resyncs.map((r) => r.reason)).toEqual(["reconnect"]);
    expect(h.sync.state).toBe("waiting");
    h.scheduler.advance(60_000);
    h.sync.onDelta(delta(20, 21, [["1", "5"]]));
    expect(h.fetches).toHaveLength(2);
    h.fetches[1]!.resolve({ sequence: 19, bids: [["1", "4"]], asks: [["2", "1"]] });
    await flush();
    expect(h.published.at(-1)).toMatchObject({ sequence: 21, bids: [["1", "5"]] });
    expect(h.synced).toEqual([1, 21]);
  });

  it("a failed snapshot is retried with a growing backoff and keeps the buffered deltas", async () => {
    const h = harness({ backoff: { initialMs: 100, maxMs: 1_000, jitter: 0 } });
    h.sync.onDelta(delta(5, 5, [["1", "5"]]));
    h.fetches[0]!.reject(new Error("HTTP 503"));
    await flush();
    expect(h.resyncs).toEqual([{ reason: "snapshot_failed", detail: "HTTP 503" }]);
    expect(h.sync.state).toBe("backoff");
    h.scheduler.advance(100);
    h.fetches[1]!.reject(new Error("HTTP 503"));
    await flush();
    h.scheduler.advance(199);
    expect(h.fetches).toHaveLength(2);
    h.scheduler.advance(1);
    expect(h.fetches).toHaveLength(3);
    h.fetches[2]!.resolve({ sequence: 4, bids: [["1", "4"]], asks: [["2", "1"]] });
    await flush();
    expect(h.published.at(-1)).toMatchObject({ sequence: 5, bids: [["1", "5"]] });
  });

  it("the delta that revealed a gap is kept for the resync: a snapshot just before it connects", async () => {
    const h = await syncedHarness();
    h.sync.onDelta(delta(5, 5, [["1", "5"]]));
    h.scheduler.advance(500);
    h.fetches[1]!.resolve({ sequence: 4, bids: [["1", "4"]], asks: [["2", "1"]] });
    await flush();
    expect(h.resyncs.map((r) => r.reason)).toEqual(["gap"]);
    expect(h.published.at(-1)).toMatchObject({ sequence: 5, bids: [["1", "5"]] });
  });

  it("a snapshot older than the buffered deltas is fetched again (gap), keeping them", async () => {
    const h = harness({ backoff: { initialMs: 100, jitter: 0 } });
    h.sync.onDelta(delta(10, 12, [["1", "12"]]));
    h.fetches[0]!.resolve({ sequence: 5, bids: [["1", "5"]], asks: [["2", "1"]] });
    await flush();
    expect(h.resyncs.map((r) => r.reason)).toEqual(["gap"]);
    expect(h.sync.buffered).toBe(1);
    h.scheduler.advance(100);
    h.fetches[1]!.resolve({ sequence: 11, bids: [["1", "11"]], asks: [["2", "1"]] });
    await flush();
    expect(h.published).toHaveLength(1);
    expect(h.published[0]).toMatchObject({ sequence: 12, bids: [["1", "12"]] });
  });

  it("a snapshot that arrives after the book was dropped again is ignored", async () => {
    const h = harness();
    h.sync.onDelta(delta(1, 1));
    h.sync.resync("checksum", "connector check");
    h.fetches[0]!.resolve({ sequence: 1, bids: [["1", "1"]], asks: [["2", "1"]] });
    await flush();
    expect(h.published).toEqual([]);
    expect(h.sync.state).toBe("backoff");
  });

  it("snapshots wait for the connector's limiter", async () => {
    const grants: Array<() => void> = [];
    const weights: number[] = [];
    const h = harness({
      limiter: {
        acquire: (w) => {
          weights.push(w);
          return new Promise<void>((r) => grants.push(r));
        },
      },
      snapshotWeight: 50,
    });
    h.sync.onDelta(delta(1, 1));
    await flush();
    expect(weights).toEqual([50]);
    expect(h.fetches).toHaveLength(0);
    grants[0]!();
    await flush();
    expect(h.fetches).toHaveLength(1);
  });

  it("close stops everything", async () => {
    const h = await syncedHarness({ intervalMs: 100 });
    h.sync.onDelta(delta(2, 2, [["1", "2"]]));
    h.sync.close();
    h.scheduler.advance(1_000);
    h.sync.onDelta(delta(3, 3));
    h.sync.onSnapshot({ sequence: 3, bids: [["1", "1"]], asks: [["2", "1"]] });
    expect(h.published).toHaveLength(1);
    expect(h.sync.state).toBe("closed");
  });
});
