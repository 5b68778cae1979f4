import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StandardEvent } from "@market-scraper/events";
import {
  FakeBybitServer,
  type FakeBybitLevel,
  type FakeBybitTrade,
  type NatsServerHandle,
  freePort,
  startNats,
  waitFor,
} from "@market-scraper/testkit";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// End to end: the built service (dist/main.js) with CONNECTORS=bybit-spot,bybit-linear against the fake
// Bybit, a real nats-server; we watch market.> and system.> as any consumer would.
const serviceDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const mainJs = join(serviceDir, "dist", "main.js");

interface Seen {
  subject: string;
  event: StandardEvent;
}
interface BookPayload {
  symbol: string;
  sequence: number;
  bids: [number, number][];
  asks: [number, number][];
}

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
  let nc: NatsConnection;
  let child: ChildProcess | undefined;
  const seen: Seen[] = [];

  const where = (type: string, source: string, symbol?: string): Seen[] =>
    seen.filter(
      (s) =>
        s.event.event_type === type &&
        s.event.source === source &&
        (symbol === undefined || (s.event.payload as { symbol?: string }).symbol === symbol),
    );
  const errors = (code: string, source: string): StandardEvent[] =>
    where("error", source)
      .map((s) => s.event)
      .filter((e) => (e.payload as { error_code: string }).error_code === code);
  const status = (source: string): string[] =>
    where("connector_status", source)
      .map((s) => s.event.payload as { status: string; channel?: string })
      .filter((p) => p.channel === undefined)
      .map((p) => p.status);
  const books = (symbol: string): BookPayload[] =>
    where("order_book", "bybit-linear", symbol).map((s) => s.event.payload as unknown as BookPayload);

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
    expect(existsSync(mainJs), `${mainJs} missing: run pnpm build first`).toBe(true);
    nats = await startNats({ isolated: true });
    fake = await FakeBybitServer.start();
    nc = await connect({ servers: nats.url });
    for (const subject of ["market.>", "system.>"]) {
      nc.subscribe(subject, {
        callback: (_err, msg) => {
          seen.push({ subject: msg.subject, event: StandardEvent.parse(JSON.parse(msg.string())) });
        },
      });
    }
    await nc.flush();
    seed("BTCUSDT", 30_000);
    seed("ETHUSDT", 2_000);
    child = spawn(process.execPath, [mainJs], {
      cwd: serviceDir,
      env: {
        PATH: process.env.PATH ?? "",
        NATS_URL: nats.url,
        HTTP_PORT: String(await freePort()),
        LOG_LEVEL: "warn",
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
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
  });

  afterAll(async () => {
    if (child?.exitCode === null) child.kill("SIGKILL");
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
    const symbolStates = where("connector_status", "bybit-linear")
      .map((s) => s.event.payload as { channel?: string; symbols?: string[]; status: string })
      .filter((p) => p.channel === "order_book" && p.symbols?.[0] === "BTC-USDT")
      .map((p) => p.status);
    expect(symbolStates.slice(-2)).toEqual(["reconnecting", "subscribed"]);
  });
});
