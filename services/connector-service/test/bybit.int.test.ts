import type { ChildProcess } from "node:child_process";
import type { StandardEvent } from "@market-scraper/events";
import {
  FakeBybitServer,
  type FakeBybitLevel,
  type FakeBybitTrade,
  type NatsServerHandle,
  startNats,
  waitFor,
} from "@market-scraper/testkit";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SeenEvents, killService, spawnConnectorService, watchEvents } from "./service-process.js";

// End to end: the built service (dist/main.js) with CONNECTORS=bybit-spot,bybit-linear against the fake
// Bybit, a real nats-server; we watch market.> and system.> as any consumer would.

const T0 = 1_700_000_000_000;

function trade(symbol: string, n: number): FakeBybitTrade {
  return {
    T: T0 + n,
    s: symbol,
    S: n % 2 === 0 ? "Buy" : "Sell",
    v: "0.010",
    p: `${30000 + n}.50`,
    i: `22900000000507${n}`,
  };
}

describe("bybit-spot and bybit-linear end to end (dist/main.js, fake Bybit, nats-server)", () => {
  let nats: NatsServerHandle;
  let fake: FakeBybitServer;
  let nc: NatsConnection | undefined;
  let child: ChildProcess | undefined;
  let seen: SeenEvents;

  const where = (type: string, source: string, symbol?: string) => seen.where(type, source, symbol);
  const errors = (code: string, source: string): StandardEvent[] => seen.errors(code, source);
  const status = (source: string): string[] => seen.status(source);
  const books = (symbol: string) => seen.books("bybit-linear", symbol);

  function seed(symbol: string, mid: number): void {
    const bids: FakeBybitLevel[] = [];
    const asks: FakeBybitLevel[] = [];
    for (let i = 0; i < 40; i += 1) {
      bids.push([(mid - 0.5 - i * 0.25).toFixed(2), (1 + i / 1000).toFixed(4)]);
      asks.push([(mid + 0.5 + i * 0.25).toFixed(2), (2 + i / 1000).toFixed(4)]);
    }
    fake.updateBook("linear", symbol, { bids, asks }, T0);
  }

  /** The last published book equals the fake's true book, top 20 levels, value for value. */
  function expectTrueBook(symbol: string, raw: string): void {
    const truth = fake.book("linear", raw, 20);
    const last = books(symbol).at(-1)!;
    expect(last.sequence).toBe(truth.u);
    expect(last.bids.map(([p, s]) => [String(p), String(s)])).toEqual(
      truth.bids.map(([p, s]) => [String(Number(p)), String(Number(s))]),
    );
    expect(last.asks.map(([p, s]) => [String(p), String(s)])).toEqual(
      truth.asks.map(([p, s]) => [String(Number(p)), String(Number(s))]),
    );
    expect(last.bids).toHaveLength(20);
  }

  beforeAll(async () => {
    nats = await startNats({ isolated: true });
    fake = await FakeBybitServer.start();
    ({ nc, seen } = await watchEvents(nats.url));
    seed("BTCUSDT", 30_000);
    seed("ETHUSDT", 2_000);
    child = await spawnConnectorService(nats.url, {
      CONNECTORS: "bybit-spot,bybit-linear",
      BYBIT_SPOT_WS_URL: fake.wsUrl("spot"),
      BYBIT_SPOT_REST_URL: fake.restUrl,
      BYBIT_SPOT_SYMBOLS: "BTC-USDT",
      BYBIT_SPOT_CHANNELS: "trade",
      BYBIT_LINEAR_WS_URL: fake.wsUrl("linear"),
      BYBIT_LINEAR_REST_URL: fake.restUrl,
      BYBIT_LINEAR_SYMBOLS: "BTCUSDT,ETHUSDT",
      BYBIT_LINEAR_CHANNELS: "trade,order_book",
      BYBIT_LINEAR_BOOK_INTERVAL: "0",
      HEARTBEAT_INTERVAL: "1s",
    });
  });

  afterAll(async () => {
    killService(child);
    await nc?.close();
    await fake?.close();
    await nats?.stop();
  });

  it("publishes normalized trades of both sources, each once across reconnects that re-send them", async () => {
    await waitFor(
      () => status("bybit-spot").includes("subscribed") && status("bybit-linear").includes("subscribed"),
      {
        timeoutMs: 20_000,
        message: "both subscribed",
      },
    );
    fake.pushTrades("spot", "BTCUSDT", [trade("BTCUSDT", 1), trade("BTCUSDT", 2)]);
    fake.pushTrades("linear", "BTCUSDT", [trade("BTCUSDT", 3)]);
    await waitFor(
      () => where("trade", "bybit-spot").length === 2 && where("trade", "bybit-linear").length === 1,
      {
        message: "trades",
      },
    );
    const first = where("trade", "bybit-spot")[0]!;
    expect(first.subject).toBe("market.trade.bybit-spot.BTC-USDT");
    expect(first.event.payload).toMatchObject({
      symbol: "BTC-USDT",
      raw_symbol: "BTCUSDT",
      price: 30001.5,
      volume: 0.01,
      side: "sell",
      trade_id: "229000000005071",
    });
    expect(where("trade", "bybit-linear")[0]!.subject).toBe("market.trade.bybit-linear.BTC-USDT");

    fake.resendTradesOnSubscribe(3);
    const before = errors("DISCONNECTED", "bybit-spot").length;
    fake.dropConnections();
    await waitFor(
      () =>
        errors("DISCONNECTED", "bybit-spot").length > before && status("bybit-spot").at(-1) === "subscribed",
      {
        timeoutMs: 20_000,
        message: "spot back",
      },
    );
    await waitFor(() => status("bybit-linear").at(-1) === "subscribed", {
      timeoutMs: 20_000,
      message: "linear back",
    });
    fake.pushTrades("spot", "BTCUSDT", [trade("BTCUSDT", 4)]);
    await waitFor(() => where("trade", "bybit-spot").length === 3, { message: "trade 4" });
    const ids = where("trade", "bybit-spot").map((s) => (s.event.payload as { trade_id: string }).trade_id);
    expect(ids).toEqual(["229000000005071", "229000000005072", "229000000005074"]);
  });

  it("after a sequence gap the symbol resyncs alone; the last book is the fake's true book, nothing between", async () => {
    const truth = (raw: string) => fake.book("linear", raw).u;
    await waitFor(
      () =>
        books("BTC-USDT").at(-1)?.sequence === truth("BTCUSDT") &&
        books("ETH-USDT").at(-1)?.sequence === truth("ETHUSDT"),
      {
        message: "books in sync",
      },
    );
    fake.updateBook("linear", "BTCUSDT", {
      bids: [
        ["29999.50", "0"],
        ["29999.60", "4.2"],
      ],
    });
    fake.updateBook("linear", "ETHUSDT", { asks: [["2000.50", "0.5"]] });
    await waitFor(
      () =>
        books("BTC-USDT").at(-1)?.sequence === truth("BTCUSDT") &&
        books("ETH-USDT").at(-1)?.sequence === truth("ETHUSDT"),
      {
        message: "deltas applied",
      },
    );
    expectTrueBook("BTC-USDT", "BTCUSDT");
    const resyncsBefore = errors("BOOK_RESYNC", "bybit-linear").length;
    const ethSnapshots = fake.snapshotsSent.get("linear|orderbook.50.ETHUSDT");
    const btcBooksBefore = books("BTC-USDT").length;
    const ethBooksBefore = books("ETH-USDT").length;

    fake.skipNextUpdate("linear", "BTCUSDT");
    fake.updateBook("linear", "BTCUSDT", { asks: [["30000.50", "0"]] }); // applied by the exchange, never received
    fake.updateBook("linear", "BTCUSDT", { bids: [["29999.70", "1.25"]] }); // u + 2: the gap
    await waitFor(
      () =>
        books("BTC-USDT").length > btcBooksBefore && books("BTC-USDT").at(-1)?.sequence === truth("BTCUSDT"),
      {
        message: "resynced book",
      },
    );
    const resyncs = errors("BOOK_RESYNC", "bybit-linear").slice(resyncsBefore);
    expect(
      resyncs.map((e) => (e.payload as unknown as { details: { symbol: string; reason: string } }).details),
    ).toEqual([expect.objectContaining({ symbol: "BTC-USDT", raw_symbol: "BTCUSDT", reason: "gap" })]);
    // Nothing was published between the gap and the resync: the next book is the resynced one.
    expect(
      books("BTC-USDT")
        .slice(btcBooksBefore)
        .map((b) => b.sequence),
    ).toEqual([truth("BTCUSDT")]);
    expectTrueBook("BTC-USDT", "BTCUSDT");
    // ETH was not resynced and goes on.
    expect(fake.snapshotsSent.get("linear|orderbook.50.ETHUSDT")).toBe(ethSnapshots);
    expect(books("ETH-USDT")).toHaveLength(ethBooksBefore);
    fake.updateBook("linear", "ETHUSDT", { bids: [["1999.40", "3"]] });
    await waitFor(() => books("ETH-USDT").at(-1)?.sequence === truth("ETHUSDT"), { message: "ETH goes on" });
    expect(where("order_book", "bybit-linear", "BTC-USDT")[0]!.subject).toBe(
      "market.order_book.bybit-linear.BTC-USDT",
    );
    expect(seen.symbolStatus("bybit-linear", "order_book", "BTC-USDT").slice(-2)).toEqual([
      "reconnecting",
      "subscribed",
    ]);
  });
});
