import type { StandardEvent } from "@market-scraper/events";
import { createLogger } from "@market-scraper/runtime";
import { FakeBinanceServer, type FakeBinanceKind, waitFor } from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { BinanceConnector, type BinanceConnectorOptions } from "./binance-connector.js";

const logger = createLogger({ service: "test", level: "silent" });

type Payload = Record<string, unknown>;

describe("BinanceConnector against the fake Binance server", () => {
  let fake: FakeBinanceServer | undefined;
  let connector: BinanceConnector | undefined;
  let events: StandardEvent[] = [];

  afterEach(async () => {
    await connector?.stop();
    await fake?.close();
    connector = undefined;
    fake = undefined;
    events = [];
  });

  async function start(
    kind: FakeBinanceKind,
    options: Partial<BinanceConnectorOptions> = {},
  ): Promise<{ fake: FakeBinanceServer; c: BinanceConnector }> {
    fake = await FakeBinanceServer.start({ kind });
    const f = fake;
    connector = new BinanceConnector({
      kind,
      wsUrl: f.wsUrl,
      restUrl: f.restUrl,
      symbols: ["BTCUSDT"],
      channels: ["trade"],
      sink: { publish: (event) => events.push(event) },
      logger,
      heartbeatIntervalMs: 0,
      backoff: { initialMs: 20, maxMs: 100 },
      restWeightPerMinute: 120_000,
      bookIntervalMs: 0,
      ...options,
    });
    await connector.start();
    await connector.ready();
    return { fake: f, c: connector };
  }

  const ofType = (type: string): Payload[] =>
    events.filter((e) => e.event_type === type).map((e) => e.payload as Payload);
  const errors = (code: string): Payload[] =>
    ofType("error").filter((p) => p.error_code === code) as Payload[];
  const books = (symbol: string): Payload[] => ofType("order_book").filter((p) => p.raw_symbol === symbol);
  /** The last published book as `[price, size]` numbers, as `order_book` events carry them. */
  const lastBook = (symbol: string): { bids: unknown; asks: unknown; sequence: unknown } => {
    const last = books(symbol).at(-1)!;
    return { bids: last.bids, asks: last.asks, sequence: last.sequence };
  };
  const trueBook = (f: FakeBinanceServer, symbol: string) => {
    const book = f.trueBook(symbol, 20);
    const num = (levels: [string, string][]) => levels.map(([p, q]) => [Number(p), Number(q)]);
    return { bids: num(book.bids), asks: num(book.asks), sequence: book.lastUpdateId };
  };

  it("validates symbols from exchangeInfo: BTC-USDT and btcusdt resolve, unknown and halted ones are reported", async () => {
    fake = await FakeBinanceServer.start({ kind: "spot" });
    fake.halt("BNBBTC");
    const f = fake;
    connector = new BinanceConnector({
      kind: "spot",
      wsUrl: f.wsUrl,
      restUrl: f.restUrl,
      symbols: ["BTC-USDT", "ethusdt", "XYZUSDT", "BNBBTC"],
      channels: ["trade"],
      sink: { publish: (event) => events.push(event) },
      logger,
      heartbeatIntervalMs: 0,
    });
    const c = connector;
    await c.start();
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    expect(c.markets.map((m) => [m.symbol, m.rawSymbol])).toEqual([
      ["BTC-USDT", "BTCUSDT"],
      ["ETH-USDT", "ETHUSDT"],
    ]);
    expect(c.unknownSymbols).toEqual(["XYZUSDT", "BNBBTC"]);
    expect(errors("INVALID_SYMBOL").map((p) => (p.details as Payload).symbol)).toEqual(["XYZUSDT", "BNBBTC"]);
    expect(f.streams().sort()).toEqual(["btcusdt@trade", "ethusdt@trade"]);
    expect(c.health()).toMatchObject({ status: "degraded" });
  });

  it("publishes spot trades once each across a dropped socket and re-sent trades", async () => {
    const { fake: f, c } = await start("spot", { channels: ["trade"] });
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    f.pushTrade("BTCUSDT", {
      id: 1,
      price: "70000.10",
      qty: "0.5",
      time: 1_790_000_000_000,
      buyerMaker: true,
    });
    f.pushTrade("BTCUSDT", {
      id: 2,
      price: "70000.20",
      qty: "0.25",
      time: 1_790_000_000_100,
      buyerMaker: false,
    });
    await waitFor(() => ofType("trade").length === 2, { message: "two trades" });
    f.resendTradesOnSubscribe(2);
    const accepted = f.connectionsAccepted;
    f.dropConnections();
    await waitFor(() => f.connectionsAccepted > accepted && c.state === "subscribed", { message: "back" });
    f.pushTrade("BTCUSDT", {
      id: 3,
      price: "70000.30",
      qty: "1",
      time: 1_790_000_000_200,
      buyerMaker: false,
    });
    await waitFor(() => ofType("trade").length === 3, { message: "third trade" });
    expect(ofType("trade").map((t) => [t.trade_id, t.price, t.side])).toEqual([
      ["1", 70000.1, "sell"],
      ["2", 70000.2, "buy"],
      ["3", 70000.3, "buy"],
    ]);
    expect(errors("DISCONNECTED")).toHaveLength(1);
  });

  it("spreads streams over connections and paces SUBSCRIBEs below Binance's 5 messages a second", async () => {
    const { fake: f, c } = await start("spot", {
      symbols: ["BTCUSDT", "ETHUSDT", "BNBBTC"],
      channels: ["trade", "ticker", "ohlcv"],
      intervals: ["1m", "5m", "1h", "1d"],
      streamsPerConnection: 7,
    });
    await waitFor(() => c.state === "subscribed", { timeoutMs: 10_000, message: "subscribed" });
    // 3 symbols × 6 streams = 18 streams over ⌈18 / 7⌉ = 3 connections.
    expect(
      f
        .connections()
        .map((x) => x.streams.length)
        .sort(),
    ).toEqual([4, 7, 7]);
    expect(f.rateLimitDisconnects).toBe(0);
  });

  it("maps ticker and klines (closed = x)", async () => {
    const { fake: f, c } = await start("spot", { channels: ["ticker", "ohlcv"] });
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    f.pushTicker("BTCUSDT", {
      last: "70001.5",
      volume: "1234.5",
      quoteVolume: "86400000.25",
      open: "69000",
      high: "71000",
      low: "68000",
      time: 1_790_000_000_000,
      bid: ["70001.4", "2"],
      ask: ["70001.6", "3"],
    });
    const kline = {
      interval: "1m",
      openTime: 1_790_000_040_000,
      closeTime: 1_790_000_099_999,
      open: "1",
      high: "2",
      low: "0.5",
      close: "1.5",
      volume: "10",
      trades: 4,
    };
    f.pushKline("BTCUSDT", { ...kline, closed: false });
    f.pushKline("BTCUSDT", { ...kline, closed: true });
    await waitFor(() => ofType("ohlcv").length === 2 && ofType("ticker").length === 1, { message: "events" });
    expect(ofType("ticker")[0]).toMatchObject({ price: 70001.5, bid: 70001.4, ask: 70001.6, volume: 1234.5 });
    expect(ofType("ohlcv").map((k) => k.closed)).toEqual([false, true]);
  });

  it("USDⓈ-M: depth and bookTicker on /public, the rest on /market; derivative_ticker with polled open interest; liquidations", async () => {
    const { fake: f, c } = await start("usdm", {
      channels: ["trade", "ticker", "order_book", "derivative_ticker", "liquidation"],
      openInterestIntervalMs: 50,
    });
    f.setOpenInterest("BTCUSDT", "26286.181", 1_790_000_000_000);
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    const routes = f.connections().map((x) => [x.route, x.streams.sort()]);
    expect(routes).toEqual(
      expect.arrayContaining([
        ["public", ["btcusdt@bookTicker", "btcusdt@depth@100ms"]],
        ["market", ["btcusdt@aggTrade", "btcusdt@forceOrder", "btcusdt@markPrice@1s", "btcusdt@ticker"]],
      ]),
    );
    await waitFor(() => f.restRequests.some((r) => r.path === "/fapi/v1/openInterest"), {
      message: "OI polled",
    });
    f.pushMarkPrice("BTCUSDT", {
      mark: "70000.5",
      index: "69990.1",
      funding: "0.0001",
      nextFunding: 1_790_006_400_000,
      time: 1_790_000_001_000,
    });
    f.pushForceOrder("BTCUSDT", {
      side: "SELL",
      qty: "0.5",
      price: "69000",
      avgPrice: "69010.5",
      time: 1_790_000_001_500,
    });
    await waitFor(() => ofType("derivative_ticker").length === 1 && ofType("liquidation").length === 1, {
      message: "derivatives",
    });
    expect(ofType("derivative_ticker")[0]).toMatchObject({
      symbol: "BTC-USDT",
      mark_price: 70000.5,
      index_price: 69990.1,
      funding_rate: 0.0001,
      open_interest: 26286.181,
      next_funding_time: new Date(1_790_006_400_000).toISOString(),
    });
    expect(ofType("liquidation")[0]).toMatchObject({ side: "sell", price: 69010.5, volume: 0.5 });
  });

  for (const kind of ["spot", "usdm"] as const) {
    it(`${kind}: after a sequence gap only that symbol resyncs, nothing is published in between, and the last book is the true book`, async () => {
      const { fake: f, c } = await start(kind, { symbols: ["BTCUSDT", "ETHUSDT"], channels: ["order_book"] });
      for (const symbol of ["BTCUSDT", "ETHUSDT"]) {
        f.updateBook(
          symbol,
          [
            ["100.10", "1.5"],
            ["100.00", "2"],
          ],
          [
            ["100.20", "1"],
            ["100.30", "4.25"],
          ],
        );
      }
      await waitFor(() => c.state === "subscribed", { message: "subscribed" });
      // Deltas flow; the first ones make the connector fetch its snapshots.
      for (let i = 0; i < 3; i += 1)
        for (const symbol of ["BTCUSDT", "ETHUSDT"])
          f.updateBook(symbol, [[`99.${90 - i}`, "1"]], [], { ids: 2 });
      await waitFor(() => c.book("BTCUSDT")?.synced === true && c.book("ETHUSDT")?.synced === true, {
        message: "synced",
      });
      f.updateBook("BTCUSDT", [["100.05", "7"]], []);
      await waitFor(() => books("BTCUSDT").at(-1)?.sequence === f.trueBook("BTCUSDT").lastUpdateId, {
        message: "caught up",
      });
      const before = books("BTCUSDT").length;
      const ethBefore = books("ETHUSDT").length;
      // The gap: an update the client never sees, then one it does.
      f.updateBook("BTCUSDT", [["100.10", "0"]], [["100.20", "3.5"]], { send: false });
      f.updateBook("BTCUSDT", [["99.50", "8"]], []);
      await waitFor(() => errors("BOOK_RESYNC").length === 1, { message: "resync reported" });
      await waitFor(() => c.book("BTCUSDT")?.synced === true && books("BTCUSDT").length > before, {
        message: "resynced",
      });
      f.updateBook("BTCUSDT", [["99.40", "1.25"]], []);
      f.updateBook("ETHUSDT", [["99.10", "3"]], []);
      await waitFor(
        () =>
          books("BTCUSDT").at(-1)?.sequence === f.trueBook("BTCUSDT").lastUpdateId &&
          books("ETHUSDT").at(-1)?.sequence === f.trueBook("ETHUSDT").lastUpdateId,
        { message: "final books" },
      );
      expect(lastBook("BTCUSDT")).toEqual(trueBook(f, "BTCUSDT"));
      expect(lastBook("ETHUSDT")).toEqual(trueBook(f, "ETHUSDT"));
      // Nothing between the gap and the resync: every book after the gap is already past the missed update.
      const gapId = f.trueBook("BTCUSDT").lastUpdateId - 2;
      expect(
        books("BTCUSDT")
          .slice(before)
          .every((b) => (b.sequence as number) > gapId),
      ).toBe(true);
      expect(errors("BOOK_RESYNC").map((p) => (p.details as Payload).raw_symbol)).toEqual(["BTCUSDT"]);
      expect(books("ETHUSDT").length).toBeGreaterThan(ethBefore);
      // The other symbol's book was fetched once only.
      const ethSnapshots = f.restRequests.filter(
        (r) => r.path.endsWith("/depth") && r.query.symbol === "ETHUSDT",
      );
      expect(ethSnapshots).toHaveLength(1);
    });
  }

  it("retries a stale snapshot (older than the first buffered event) and honours 429/418 Retry-After", async () => {
    const { fake: f, c } = await start("spot", { channels: ["order_book"] });
    f.updateBook("BTCUSDT", [["100.10", "1.5"]], [["100.20", "1"]]);
    f.serveStaleSnapshot("BTCUSDT", 1);
    f.failRest(1, 429, 0, "/api/v3/depth");
    f.failRest(1, 418, 0, "/api/v3/depth");
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    f.updateBook("BTCUSDT", [["100.05", "2"]], [], { ids: 3 });
    await waitFor(() => c.book("BTCUSDT")?.synced === true, { timeoutMs: 10_000, message: "synced" });
    f.updateBook("BTCUSDT", [["100.04", "2"]], []);
    await waitFor(() => books("BTCUSDT").at(-1)?.sequence === f.trueBook("BTCUSDT").lastUpdateId, {
      message: "caught up",
    });
    expect(lastBook("BTCUSDT")).toEqual(trueBook(f, "BTCUSDT"));
    const statuses = f.restRequests.filter((r) => r.path === "/api/v3/depth").map((r) => r.status);
    expect(statuses.slice(0, 2)).toEqual([429, 418]);
    expect(errors("RATE_LIMIT").map((p) => (p.details as Payload).status)).toEqual([429, 418]);
  });

  it("treats serverShutdown and the close that follows as a planned reconnect (no DISCONNECTED)", async () => {
    const { fake: f, c } = await start("spot", { channels: ["trade"] });
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    const accepted = f.connectionsAccepted;
    f.expireConnections();
    await waitFor(() => f.connectionsAccepted > accepted && c.state === "subscribed", {
      message: "replaced",
    });
    expect(errors("DISCONNECTED")).toHaveLength(0);
  });
});
