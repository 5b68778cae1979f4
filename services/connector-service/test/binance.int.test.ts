import type { ChildProcess } from "node:child_process";
import {
  FakeBinanceServer,
  type FakeBinanceLevel,
  type FakeBinanceTrade,
  type NatsServerHandle,
  startNats,
  waitFor,
} from "@market-scraper/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SeenEvents,
  decimalText,
  killService,
  spawnConnectorService,
  watchEvents,
} from "./service-process.js";

// End to end: the built service (dist/main.js) with CONNECTORS=binance,binance-usdm against two fake
// Binance servers (spot and USDⓈ-M), a real nats-server; we watch market.> and system.> as any consumer
// would.

const T0 = 1_700_000_000_000;

function trade(id: number): FakeBinanceTrade {
  return { id, price: `${30_000 + id}.50000000`, qty: "0.01000000", time: T0 + id, buyerMaker: id % 2 === 0 };
}

describe("binance and binance-usdm end to end (dist/main.js, fake Binance spot and USDⓈ-M, nats-server)", () => {
  let nats: NatsServerHandle;
  let spot: FakeBinanceServer;
  let usdm: FakeBinanceServer;
  let nc: NatsConnection | undefined;
  let seen: SeenEvents;
  let child: ChildProcess | undefined;

  const fakeOf = (source: string): FakeBinanceServer => (source === "binance" ? spot : usdm);
  const depthPath = (source: string): string => (source === "binance" ? "/api/v3/depth" : "/fapi/v1/depth");
  /** REST depth snapshots the fake was asked for (whatever it answered). */
  const snapshotRequests = (source: string, raw: string): number =>
    fakeOf(source).restRequests.filter((r) => r.path === depthPath(source) && r.query.symbol === raw).length;
  const truth = (source: string, raw: string): number => fakeOf(source).trueBook(raw).lastUpdateId;
  const lastSequence = (source: string, symbol: string): number | undefined =>
    seen.books(source, symbol).at(-1)?.sequence;
  const inSync = (source: string, pairs: (readonly [string, string])[]): boolean =>
    pairs.every(([symbol, raw]) => lastSequence(source, symbol) === truth(source, raw));

  /**
   * One depth update (the size of the 30th bid): Binance sends updates all the time, and the engine
   * fetches its snapshot once the stream has given it one (exchanges.md §2.4).
   */
  function nudge(source: string, raw: string): void {
    const fake = fakeOf(source);
    const level = fake.trueBook(raw, 30).bids[29]!;
    fake.updateBook(raw, [[level[0], (Number(level[1]) + 0.001).toFixed(8)]], []);
  }

  function seed(fake: FakeBinanceServer, raw: string, mid: number): void {
    const bids: FakeBinanceLevel[] = [];
    const asks: FakeBinanceLevel[] = [];
    for (let i = 0; i < 40; i += 1) {
      bids.push([(mid - 0.5 - i * 0.25).toFixed(8), (1 + i / 1000).toFixed(8)]);
      asks.push([(mid + 0.5 + i * 0.25).toFixed(8), (2 + i / 1000).toFixed(8)]);
    }
    fake.updateBook(raw, bids, asks, { time: T0 });
  }

  /** The last published book equals the fake's true book: top 20 levels, sequence, the exact decimals. */
  function expectTrueBook(source: string, symbol: string, raw: string): void {
    const want = fakeOf(source).trueBook(raw, 20);
    const last = seen.books(source, symbol).at(-1)!;
    expect(last.sequence).toBe(want.lastUpdateId);
    const text = (levels: [number, number][]) => levels.map(([p, q]) => [String(p), String(q)]);
    const exact = (levels: [string, string][]) => levels.map(([p, q]) => [decimalText(p), decimalText(q)]);
    expect(text(last.bids)).toEqual(exact(want.bids));
    expect(text(last.asks)).toEqual(exact(want.asks));
    expect(last.bids).toHaveLength(20);
    expect(last.asks).toHaveLength(20);
  }

  beforeAll(async () => {
    nats = await startNats({ isolated: true });
    spot = await FakeBinanceServer.start({ kind: "spot" });
    usdm = await FakeBinanceServer.start({ kind: "usdm" });
    ({ nc, seen } = await watchEvents(nats.url));
    seed(spot, "BTCUSDT", 30_000);
    seed(spot, "ETHUSDT", 2_000);
    seed(usdm, "BTCUSDT", 30_010);
    seed(usdm, "ETHUSDT", 2_001);
    usdm.setOpenInterest("BTCUSDT", "26286.181", T0);
    // The first depth snapshot of each market is refused: 429 (rate limited) on spot, 418 (banned) on
    // USDⓈ-M, each with Retry-After.
    spot.failRest(1, 429, 1, "/api/v3/depth");
    usdm.failRest(1, 418, 2, "/fapi/v1/depth");
    child = await spawnConnectorService(nats.url, {
      CONNECTORS: "binance,binance-usdm",
      BINANCE_WS_URL: spot.wsUrl,
      BINANCE_REST_URL: spot.restUrl,
      BINANCE_SYMBOLS: "BTC-USDT,ethusdt",
      BINANCE_CHANNELS: "trade,order_book",
      BINANCE_BOOK_INTERVAL: "0",
      BINANCE_USDM_WS_URL: usdm.wsUrl,
      BINANCE_USDM_REST_URL: usdm.restUrl,
      BINANCE_USDM_SYMBOLS: "BTCUSDT,ETHUSDT",
      BINANCE_USDM_CHANNELS: "trade,order_book,liquidation,derivative_ticker",
      BINANCE_USDM_BOOK_INTERVAL: "0",
      BINANCE_USDM_OPEN_INTEREST_INTERVAL: "1s",
      HEARTBEAT_INTERVAL: "1s",
    });
  });

  afterAll(async () => {
    killService(child);
    await nc?.close();
    await spot?.close();
    await usdm?.close();
    await nats?.stop();
  });

  it("honours 429 and 418 on the depth snapshots (Retry-After), then publishes both markets' true books", async () => {
    await waitFor(
      () =>
        seen.status("binance").at(-1) === "subscribed" && seen.status("binance-usdm").at(-1) === "subscribed",
      { timeoutMs: 20_000, message: "both subscribed" },
    );
    for (const source of ["binance", "binance-usdm"])
      for (const raw of ["BTCUSDT", "ETHUSDT"]) nudge(source, raw);
    await waitFor(
      () =>
        inSync("binance", [
          ["BTC-USDT", "BTCUSDT"],
          ["ETH-USDT", "ETHUSDT"],
        ]) &&
        inSync("binance-usdm", [
          ["BTC-USDT", "BTCUSDT"],
          ["ETH-USDT", "ETHUSDT"],
        ]),
      { timeoutMs: 30_000, message: "four books in sync" },
    );
    const limited = (source: string) =>
      seen
        .errors("RATE_LIMIT", source)
        .map(
          (e) => (e.payload as unknown as { details: { status: number; retry_after_ms: number } }).details,
        );
    expect(limited("binance")).toEqual([expect.objectContaining({ status: 429, retry_after_ms: 1000 })]);
    expect(limited("binance-usdm")).toEqual([expect.objectContaining({ status: 418, retry_after_ms: 2000 })]);
    // One refused request and one answered per symbol: held, not retried in a loop.
    const statuses = (source: string) =>
      fakeOf(source)
        .restRequests.filter((r) => r.path === depthPath(source))
        .map((r) => r.status)
        .sort();
    expect(statuses("binance")).toEqual([200, 200, 429]);
    expect(statuses("binance-usdm")).toEqual([200, 200, 418]);
    expectTrueBook("binance", "BTC-USDT", "BTCUSDT");
    expectTrueBook("binance-usdm", "ETH-USDT", "ETHUSDT");
    expect(seen.where("order_book", "binance-usdm", "BTC-USDT")[0]!.subject).toBe(
      "market.order_book.binance-usdm.BTC-USDT",
    );
  });

  it("publishes normalized trades of both markets, each once across reconnects that re-send them", async () => {
    await waitFor(
      () =>
        seen.status("binance").at(-1) === "subscribed" && seen.status("binance-usdm").at(-1) === "subscribed",
      { timeoutMs: 20_000, message: "both subscribed" },
    );
    spot.pushTrade("BTCUSDT", trade(1));
    spot.pushTrade("BTCUSDT", trade(2));
    usdm.pushTrade("BTCUSDT", trade(3));
    await waitFor(
      () => seen.where("trade", "binance").length === 2 && seen.where("trade", "binance-usdm").length === 1,
      { message: "trades" },
    );
    const first = seen.where("trade", "binance")[0]!;
    expect(first.subject).toBe("market.trade.binance.BTC-USDT");
    expect(first.event.payload).toMatchObject({
      symbol: "BTC-USDT",
      raw_symbol: "BTCUSDT",
      price: 30001.5,
      volume: 0.01,
      side: "buy",
      trade_id: "1",
    });
    expect(seen.where("trade", "binance-usdm")[0]!.subject).toBe("market.trade.binance-usdm.BTC-USDT");

    spot.resendTradesOnSubscribe(2);
    usdm.resendTradesOnSubscribe(1);
    const lost = (source: string) => seen.errors("DISCONNECTED", source).length;
    const before = { spot: lost("binance"), usdm: lost("binance-usdm") };
    const accepted = { spot: spot.connectionsAccepted, usdm: usdm.connectionsAccepted };
    spot.dropConnections();
    usdm.dropConnections();
    await waitFor(
      () =>
        lost("binance") > before.spot &&
        lost("binance-usdm") > before.usdm &&
        spot.connectionsAccepted > accepted.spot &&
        usdm.connectionsAccepted > accepted.usdm + 1 &&
        seen.status("binance").at(-1) === "subscribed" &&
        seen.status("binance-usdm").at(-1) === "subscribed",
      { timeoutMs: 20_000, message: "both back and subscribed" },
    );
    spot.pushTrade("BTCUSDT", trade(4));
    usdm.pushTrade("BTCUSDT", trade(5));
    await waitFor(
      () => seen.where("trade", "binance").length >= 3 && seen.where("trade", "binance-usdm").length >= 2,
      { message: "trades after the reconnect" },
    );
    const ids = (source: string) =>
      seen.where("trade", source).map((s) => (s.event.payload as { trade_id: string }).trade_id);
    expect(ids("binance")).toEqual(["1", "2", "4"]);
    expect(ids("binance-usdm")).toEqual(["3", "5"]);
  });

  for (const { source, gapped, other } of [
    { source: "binance", gapped: ["BTC-USDT", "BTCUSDT"], other: ["ETH-USDT", "ETHUSDT"] },
    { source: "binance-usdm", gapped: ["ETH-USDT", "ETHUSDT"], other: ["BTC-USDT", "BTCUSDT"] },
  ] as const) {
    it(`${source}: after a sequence gap ${gapped[0]} resyncs alone; its last book is the true book, nothing between`, async () => {
      const fake = fakeOf(source);
      const [symbol, raw] = gapped;
      const [otherSymbol, otherRaw] = other;
      // Books are invalid since the reconnect of the previous test, until the next update makes the engine
      // fetch a snapshot (a resync, reason "reconnect").
      await waitFor(() => seen.status(source).at(-1) === "subscribed", { message: "subscribed" });
      nudge(source, raw);
      nudge(source, otherRaw);
      await waitFor(() => inSync(source, [gapped, other]), { timeoutMs: 20_000, message: "books in sync" });
      const best = fake.trueBook(raw, 1);
      fake.updateBook(raw, [[best.bids[0]![0], "0"]], [[best.asks[0]![0], "7.25000000"]]);
      await waitFor(() => inSync(source, [gapped]), { message: "delta applied" });
      expectTrueBook(source, symbol, raw);

      const resyncsBefore = seen.resyncs(source).length;
      const otherSnapshots = snapshotRequests(source, otherRaw);
      const booksBefore = seen.books(source, symbol).length;
      const otherBooksBefore = seen.books(source, otherSymbol).length;
      const top = fake.trueBook(raw, 1);
      // Applied by the exchange and in its later snapshots, but never sent: the next update shows the gap.
      fake.updateBook(raw, [], [[top.asks[0]![0], "0"]], { send: false });
      fake.updateBook(raw, [[(Number(top.bids[0]![0]) + 0.1).toFixed(8), "1.25000000"]], []);
      await waitFor(
        () =>
          seen.books(source, symbol).length > booksBefore &&
          lastSequence(source, symbol) === truth(source, raw),
        { timeoutMs: 20_000, message: "resynced book" },
      );
      expect(seen.resyncs(source).slice(resyncsBefore)).toEqual([
        expect.objectContaining({ symbol, raw_symbol: raw, reason: "gap" }),
      ]);
      // Nothing was published between the gap and the resync: the next book is the resynced one.
      expect(
        seen
          .books(source, symbol)
          .slice(booksBefore)
          .map((b) => b.sequence),
      ).toEqual([truth(source, raw)]);
      expectTrueBook(source, symbol, raw);
      expect(seen.symbolStatus(source, "order_book", symbol).slice(-2)).toEqual([
        "reconnecting",
        "subscribed",
      ]);

      // The other symbol was not resynced and goes on.
      expect(snapshotRequests(source, otherRaw)).toBe(otherSnapshots);
      expect(seen.books(source, otherSymbol)).toHaveLength(otherBooksBefore);
      const otherTop = fake.trueBook(otherRaw, 1);
      fake.updateBook(otherRaw, [[otherTop.bids[0]![0], "3.00000000"]], []);
      await waitFor(() => inSync(source, [other]), { message: `${otherSymbol} goes on` });
      expectTrueBook(source, otherSymbol, otherRaw);
      expect(seen.resyncs(source).slice(resyncsBefore)).toHaveLength(1);
    });
  }

  it("binance-usdm: liquidation and derivative_ticker (mark price, funding, polled open interest) on their subjects", async () => {
    usdm.pushForceOrder("BTCUSDT", {
      side: "SELL",
      qty: "0.014",
      price: "9910",
      avgPrice: "9910.5",
      time: T0 + 60_000,
    });
    // The open interest is polled every second; the next mark price carries the last one polled.
    await waitFor(
      () => usdm.restRequests.some((r) => r.path === "/fapi/v1/openInterest" && r.query.symbol === "BTCUSDT"),
      { timeoutMs: 10_000, message: "open interest polled" },
    );
    usdm.pushMarkPrice("BTCUSDT", {
      mark: "11857.56000000",
      index: "11851.80000000",
      funding: "-0.00010000",
      nextFunding: T0 + 3_600_000,
      time: T0 + 61_000,
    });
    await waitFor(
      () =>
        seen.where("liquidation", "binance-usdm").length === 1 &&
        seen.where("derivative_ticker", "binance-usdm").length === 1,
      { message: "liquidation and derivative_ticker" },
    );
    const liquidation = seen.where("liquidation", "binance-usdm")[0]!;
    expect(liquidation.subject).toBe("market.liquidation.binance-usdm.BTC-USDT");
    expect(liquidation.event.payload).toMatchObject({
      symbol: "BTC-USDT",
      raw_symbol: "BTCUSDT",
      side: "sell",
      price: 9910.5,
      volume: 0.014,
      timestamp: new Date(T0 + 60_000).toISOString(),
    });
    const ticker = seen.where("derivative_ticker", "binance-usdm")[0]!;
    expect(ticker.subject).toBe("market.derivative_ticker.binance-usdm.BTC-USDT");
    expect(ticker.event.payload).toMatchObject({
      symbol: "BTC-USDT",
      raw_symbol: "BTCUSDT",
      mark_price: 11857.56,
      index_price: 11851.8,
      funding_rate: -0.0001,
      next_funding_time: new Date(T0 + 3_600_000).toISOString(),
      open_interest: 26286.181,
      timestamp: new Date(T0 + 61_000).toISOString(),
    });
  });
});
