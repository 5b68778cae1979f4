import { StandardEvent } from "@market-scraper/events";
import { createLogger } from "@market-scraper/runtime";
import { FakeBybitServer, type FakeBybitLevel, waitFor } from "@market-scraper/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BybitConnector, type BybitConnectorOptions, spreadTopics } from "./bybit-connector.js";

const logger = createLogger({ service: "test", level: "silent" });

type Book = { bids: [number, number][]; asks: [number, number][]; sequence: number };

const toNumbers = (levels: readonly FakeBybitLevel[]): [number, number][] =>
  levels.map(([p, s]) => [Number(p), Number(s)]);

describe("BybitConnector against the fake server", () => {
  let fake: FakeBybitServer;
  let connector: BybitConnector | undefined;
  let events: StandardEvent[];

  beforeEach(async () => {
    fake = await FakeBybitServer.start({ pageSize: 2 });
    events = [];
  });

  afterEach(async () => {
    await connector?.stop();
    await fake.close();
  });

  function start(options: Partial<BybitConnectorOptions> & { category: "spot" | "linear" }): BybitConnector {
    connector = new BybitConnector({
      wsUrl: fake.wsUrl(options.category),
      restUrl: fake.restUrl,
      symbols: ["BTCUSDT"],
      channels: ["trade"],
      sink: { publish: (event) => events.push(event) },
      logger,
      heartbeatIntervalMs: 0,
      backoff: { initialMs: 20, maxMs: 100 },
      bookIntervalMs: 0,
      ...options,
    });
    void connector.start();
    return connector;
  }

  const ofType = (type: string): StandardEvent[] => events.filter((e) => e.event_type === type);
  const errors = (code: string): StandardEvent[] =>
    ofType("error").filter((e) => (e.payload as { error_code: string }).error_code === code);
  const books = (symbol: string): Book[] =>
    ofType("order_book")
      .filter((e) => (e.payload as { symbol: string }).symbol === symbol)
      .map((e) => e.payload as unknown as Book);
  const lastBook = (symbol: string): Book | undefined => books(symbol).at(-1);

  function expectTrueBook(category: "spot" | "linear", raw: string, symbol: string): void {
    const truth = fake.book(category, raw, 20);
    const book = lastBook(symbol);
    expect(book?.sequence).toBe(truth.u);
    expect(book?.bids).toEqual(toNumbers(truth.bids));
    expect(book?.asks).toEqual(toNumbers(truth.asks));
  }

  function seedBook(category: "spot" | "linear", raw: string, mid: number): void {
    const bids: FakeBybitLevel[] = [];
    const asks: FakeBybitLevel[] = [];
    for (let i = 0; i < 30; i += 1) {
      bids.push([(mid - 0.5 - i).toFixed(2), (1 + i / 10).toFixed(3)]);
      asks.push([(mid + 0.5 + i).toFixed(2), (2 + i / 10).toFixed(3)]);
    }
    fake.updateBook(category, raw, { bids, asks });
  }

  it("resolves symbols over every instruments-info page, normalized; an unknown one is a clear error, never subscribed", async () => {
    const c = start({ category: "spot", symbols: ["BTC-USDT", "solusdt", "NOPEUSDT"] });
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    // pageSize 2: SOLUSDT is on the second page.
    expect(fake.restRequests.map((r) => r.query.cursor ?? "")).toEqual(["", "offset%3D2"]);
    expect(fake.topics("spot").sort()).toEqual(["publicTrade.BTCUSDT", "publicTrade.SOLUSDT"]);
    const invalid = errors("INVALID_SYMBOL");
    expect(invalid).toHaveLength(1);
    expect((invalid[0]!.payload as { message: string }).message).toBe(
      "BYBIT_SPOT_SYMBOLS: bybit-spot does not list 'NOPEUSDT' (3 instruments trading); not subscribed",
    );
    expect(c.health()).toMatchObject({ status: "degraded", detail: "unknown symbols: NOPEUSDT" });
  });

  it("retries rate-limited instrument lookups (retCode 10006, HTTP 429, 403) as RATE_LIMIT errors", async () => {
    fake.failRest(1, "10006");
    fake.failRest(1, "429", 0);
    fake.failRest(1, "403", 0);
    const c = start({ category: "linear" });
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    expect(
      errors("RATE_LIMIT").map(
        (e) => (e.payload as unknown as { details: { status: number } }).details.status,
      ),
    ).toEqual([200, 429, 403]);
    expect(fake.restRequests.map((r) => [r.status, r.retCode])).toEqual([
      [200, 10006],
      [429, undefined],
      [403, undefined],
      [200, 0],
      [200, 0],
    ]);
  });

  it("spreads topics over connections and subscribes at most 10 args per request; pings with op ping", async () => {
    const c = start({
      category: "spot",
      symbols: ["BTCUSDT", "ETHUSDT", "SOLUSDT"],
      channels: ["trade", "order_book", "ticker", "ohlcv"],
      intervals: ["1m", "5m", "1h", "1d"],
      topicsPerConnection: 9,
      pingIntervalMs: 50,
    });
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    // 8 topics per symbol (trade, book, tickers + orderbook.1, 4 klines): one symbol per connection.
    const perConnection = fake.topicsPerConnection("spot").map((t) => t.sort());
    expect(perConnection).toHaveLength(3);
    expect(perConnection.map((t) => t.length)).toEqual([8, 8, 8]);
    expect(perConnection.find((t) => t.includes("publicTrade.BTCUSDT"))).toEqual([
      "kline.1.BTCUSDT",
      "kline.5.BTCUSDT",
      "kline.60.BTCUSDT",
      "kline.D.BTCUSDT",
      "orderbook.1.BTCUSDT",
      "orderbook.50.BTCUSDT",
      "publicTrade.BTCUSDT",
      "tickers.BTCUSDT",
    ]);
    const subscribes = fake.received.map((r) => r.frame as { op: string; args?: string[] });
    expect(subscribes.filter((f) => f.op === "subscribe").every((f) => (f.args?.length ?? 0) <= 10)).toBe(
      true,
    );
    await waitFor(
      () =>
        subscribes.length < fake.received.length &&
        fake.received.some((r) => (r.frame as { op: string }).op === "ping"),
      {
        message: "a ping",
      },
    );
    expect(c.sockets).toHaveLength(3);
  });

  it("groups a symbol's topics on one connection and respects the per-connection limit", () => {
    const topic = (name: string, raw: string) => ({ name: `${name}.${raw}`, instrument: { rawSymbol: raw } });
    const topics = ["A", "B", "C"].flatMap((raw) => [topic("publicTrade", raw), topic("tickers", raw)]);
    expect(spreadTopics(topics, 4).map((g) => g.map((t) => t.name))).toEqual([
      ["publicTrade.A", "tickers.A", "publicTrade.B", "tickers.B"],
      ["publicTrade.C", "tickers.C"],
    ]);
  });

  it("publishes the book the fake holds, resyncs one symbol on a gap (resubscribe), nothing in between, others untouched", async () => {
    seedBook("linear", "BTCUSDT", 30_000);
    seedBook("linear", "ETHUSDT", 2_000);
    const c = start({ category: "linear", symbols: ["BTCUSDT", "ETHUSDT"], channels: ["order_book"] });
    await waitFor(
      () => c.state === "subscribed" && books("BTC-USDT").length > 0 && books("ETH-USDT").length > 0,
      {
        message: "books",
      },
    );
    fake.updateBook("linear", "BTCUSDT", { bids: [["29999.50", "0"]], asks: [["30000.50", "4.5"]] });
    fake.updateBook("linear", "ETHUSDT", { bids: [["1999.50", "7"]] });
    await waitFor(() => lastBook("BTC-USDT")?.sequence === fake.book("linear", "BTCUSDT").u, {
      message: "delta",
    });
    expectTrueBook("linear", "BTCUSDT", "BTC-USDT");
    const snapshotsBefore = fake.snapshotsSent.get("linear|orderbook.50.BTCUSDT");
    const ethSnapshots = fake.snapshotsSent.get("linear|orderbook.50.ETHUSDT");
    const publishedBeforeGap = books("BTC-USDT").length;

    fake.skipNextUpdate("linear", "BTCUSDT");
    fake.updateBook("linear", "BTCUSDT", { bids: [["29999.00", "9.9"]] }); // never sent: the gap
    fake.updateBook("linear", "BTCUSDT", { asks: [["30001.00", "0"]] });
    await waitFor(() => errors("BOOK_RESYNC").length === 1, { message: "resync" });
    await waitFor(() => lastBook("BTC-USDT")?.sequence === fake.book("linear", "BTCUSDT").u, {
      message: "book after the resync",
    });
    const resync = errors("BOOK_RESYNC")[0]!.payload as unknown as { details: Record<string, string> };
    expect(resync.details).toMatchObject({ symbol: "BTC-USDT", raw_symbol: "BTCUSDT", reason: "gap" });
    // The first book after the gap is the resynced one: nothing built on the missing update went out.
    expect(
      books("BTC-USDT")
        .slice(publishedBeforeGap)
        .map((b) => b.sequence),
    ).toEqual([fake.book("linear", "BTCUSDT").u]);
    expect(fake.snapshotsSent.get("linear|orderbook.50.BTCUSDT")).toBe((snapshotsBefore ?? 0) + 1);
    expectTrueBook("linear", "BTCUSDT", "BTC-USDT");
    // ETH was not resynced.
    expect(fake.snapshotsSent.get("linear|orderbook.50.ETHUSDT")).toBe(ethSnapshots);
    expectTrueBook("linear", "ETHUSDT", "ETH-USDT");
    const symbolStatus = ofType("connector_status")
      .map((e) => e.payload as { channel?: string; symbols?: string[]; status: string })
      .filter((p) => p.channel === "order_book");
    expect(symbolStatus.map((p) => [p.symbols, p.status])).toContainEqual([["BTC-USDT"], "reconnecting"]);
  });

  it("a stale (out-of-order) snapshot and a u=1 reset both end with the true book", async () => {
    seedBook("spot", "BTCUSDT", 30_000);
    const c = start({ category: "spot", channels: ["order_book"] });
    await waitFor(() => c.state === "subscribed" && books("BTC-USDT").length > 0, { message: "book" });
    for (let i = 0; i < 3; i += 1) fake.updateBook("spot", "BTCUSDT", { bids: [[`2999${i}.00`, "1.5"]] });
    fake.sendStaleSnapshot("spot", "BTCUSDT", 2);
    fake.updateBook("spot", "BTCUSDT", { asks: [["30000.50", "0"]] });
    await waitFor(() => errors("BOOK_RESYNC").length >= 1, { message: "resync after the stale snapshot" });
    await waitFor(() => lastBook("BTC-USDT")?.sequence === fake.book("spot", "BTCUSDT").u, {
      message: "true book",
    });
    expectTrueBook("spot", "BTCUSDT", "BTC-USDT");

    fake.resetBook("spot", "BTCUSDT");
    fake.updateBook("spot", "BTCUSDT", { bids: [["29999.50", "3"]] });
    await waitFor(() => lastBook("BTC-USDT")?.sequence === 2, { message: "book after the reset" });
    expectTrueBook("spot", "BTCUSDT", "BTC-USDT");
  });

  it("trades once each across a dropped socket whose resubscribe re-sends them; books resync after reconnect", async () => {
    seedBook("spot", "BTCUSDT", 30_000);
    const c = start({ category: "spot", channels: ["trade", "order_book"] });
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    const trade = (n: number) => ({
      T: 1_700_000_000_000 + n,
      s: "BTCUSDT",
      S: "Buy" as const,
      v: "0.01",
      p: "30000.10",
      i: `229000000005070${n}`,
    });
    fake.pushTrades("spot", "BTCUSDT", [trade(1), trade(2)]);
    await waitFor(() => ofType("trade").length === 2, { message: "2 trades" });
    fake.resendTradesOnSubscribe(2);
    fake.dropConnections();
    await waitFor(() => errors("DISCONNECTED").length === 1 && c.state === "subscribed", { message: "back" });
    fake.pushTrades("spot", "BTCUSDT", [trade(3)]);
    fake.updateBook("spot", "BTCUSDT", { bids: [["29999.50", "0.25"]] });
    await waitFor(() => ofType("trade").length === 3, { message: "3 trades" });
    await waitFor(() => lastBook("BTC-USDT")?.sequence === fake.book("spot", "BTCUSDT").u, {
      message: "book",
    });
    expect(ofType("trade").map((e) => (e.payload as { trade_id: string }).trade_id)).toEqual([
      "2290000000050701",
      "2290000000050702",
      "2290000000050703",
    ]);
    expectTrueBook("spot", "BTCUSDT", "BTC-USDT");
    // A forced disconnect (close frame, as when the server retires a connection) recovers the same way.
    fake.forceDisconnect();
    await waitFor(() => errors("DISCONNECTED").length === 2 && c.state === "subscribed", {
      message: "back again",
    });
  });

  it("linear: derivative_ticker from merged tickers, liquidations, klines with closed; garbage is counted, not fatal", async () => {
    const c = start({
      category: "linear",
      channels: ["ticker", "derivative_ticker", "liquidation", "ohlcv"],
    });
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    fake.pushTicker("linear", "BTCUSDT", {
      lastPrice: "28550.70",
      volume24h: "151185.5160",
      markPrice: "28552.81",
      indexPrice: "28562.25",
      openInterest: "52774.528",
      nextFundingTime: "1680681600000",
      fundingRate: "0.0001",
      bid1Price: "28550.70",
      bid1Size: "2.049",
      ask1Price: "28550.80",
      ask1Size: "15.328",
    });
    fake.pushTicker("linear", "BTCUSDT", { fundingRate: "0.0002" }, "delta");
    fake.sendRaw("linear", "garbage");
    fake.pushLiquidations("BTCUSDT", [
      { T: 1_700_000_000_000, s: "BTCUSDT", S: "Buy", v: "0.5", p: "28000.1" },
    ]);
    fake.pushKline("linear", "BTCUSDT", {
      start: 1_700_000_040_000,
      end: 1_700_000_099_999,
      interval: "1",
      open: "1",
      close: "2",
      high: "3",
      low: "0.5",
      volume: "10",
      turnover: "15",
      confirm: true,
      timestamp: 1_700_000_100_001,
    });
    await waitFor(() => ofType("ohlcv").length === 1 && ofType("liquidation").length === 1, {
      message: "events",
    });
    const derivatives = ofType("derivative_ticker").map((e) => e.payload as Record<string, unknown>);
    expect(derivatives.map((d) => [d.funding_rate, d.mark_price])).toEqual([
      [0.0001, 28552.81],
      [0.0002, 28552.81],
    ]);
    expect(ofType("liquidation")[0]!.payload).toMatchObject({ side: "sell", raw_side: "Buy", volume: 0.5 });
    expect(ofType("ohlcv")[0]!.payload).toMatchObject({ interval: "1m", closed: true, close: 2 });
    expect(errors("PARSE_ERROR")).toHaveLength(1);
    for (const event of events) StandardEvent.parse(JSON.parse(JSON.stringify(event)));
  });
});
