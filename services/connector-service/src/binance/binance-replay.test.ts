import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StandardEvent, isMarketDataType } from "@market-scraper/events";
import { createLogger } from "@market-scraper/runtime";
import { FakeBinanceServer, waitFor } from "@market-scraper/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { RawCaptureWriter } from "../framework/raw-capture.js";
import { BinanceConnector } from "./binance-connector.js";
import { createBinanceReplay } from "./binance-replay.js";

const logger = createLogger({ service: "test", level: "silent" });
const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "binance-capture-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function play(file: string, name: string): Promise<StandardEvent[]> {
  const events: StandardEvent[] = [];
  const replay = createBinanceReplay({
    name,
    file,
    pace: { mode: "max" },
    sink: { publish: (e) => events.push(e) },
    logger,
    heartbeatIntervalMs: 0,
  });
  await replay.start();
  await replay.done();
  await replay.stop();
  return events;
}

const payloads = (events: StandardEvent[], type: string): Record<string, unknown>[] =>
  events.filter((e) => e.event_type === type).map((e) => e.payload as Record<string, unknown>);

describe("replay of Binance captures", () => {
  it("plays the shipped spot fixture (real frames of exchanges.md §2.3): trades once, the book by the U/u rules", async () => {
    const events = await play(fixture("binance-capture.jsonl"), "binance");
    for (const event of events) StandardEvent.parse(JSON.parse(JSON.stringify(event)));
    expect(payloads(events, "trade").map((t) => t.trade_id)).toEqual(["60276726", "12345"]);
    expect(payloads(events, "ohlcv")).toHaveLength(1);
    expect(payloads(events, "ticker").map((t) => t.symbol)).toEqual(["DOGE-BNB"]);
    // Snapshot 41603417, then the buffered event [41603414; 41603418] and [41603417; 41603419].
    const books = payloads(events, "order_book");
    expect(books.map((b) => b.sequence)).toEqual([41603418, 41603419]);
    expect(books.at(-1)).toMatchObject({
      symbol: "GNT-BTC",
      bids: [
        [0.00002248, 114],
        [0.00002246, 375],
        [0.00002245, 2673],
        [0.00002244, 390],
        [0.00002243, 3425],
      ],
      asks: [
        [0.00002253, 3945],
        [0.00002256, 50641],
        [0.00002258, 1777],
        [0.00002262, 6080],
      ],
    });
  });

  it("plays the shipped USDⓈ-M fixture: derivative ticker with the polled open interest, liquidation, pu-chained book", async () => {
    // aggTrade, markPrice, forceOrder and bookTicker frames are the real ones of exchanges-derivatives.md;
    // the depth frames follow the tardis capture's shape with values made consistent (its lone frame's
    // ask is below its bid), and the snapshot is [SHAPE ONLY] (no real /fapi/v1/depth sample exists).
    const events = await play(fixture("binance-usdm-capture.jsonl"), "binance-usdm");
    for (const event of events) StandardEvent.parse(JSON.parse(JSON.stringify(event)));
    expect(payloads(events, "trade").map((t) => t.trade_id)).toEqual(["3412663610"]);
    expect(payloads(events, "derivative_ticker")[0]).toMatchObject({
      open_interest: 26286.181,
      mark_price: 11857.56,
    });
    expect(payloads(events, "liquidation")[0]).toMatchObject({ side: "buy", price: 4706.04, volume: 0.014 });
    const books = payloads(events, "order_book");
    expect(books.map((b) => b.sequence)).toEqual([687687946, 687687950]);
    expect(books.at(-1)).toMatchObject({
      bids: [[8493.78, 0.162]],
      asks: [
        [8494, 2.425419],
        [8495, 3.5],
      ],
    });
  });

  it("gives the same market events as the live connector whose capture it plays", async () => {
    const fake = await FakeBinanceServer.start({ kind: "usdm" });
    const file = join(dir, "live-usdm.jsonl");
    const capture = new RawCaptureWriter(file);
    const live: StandardEvent[] = [];
    const connector = new BinanceConnector({
      kind: "usdm",
      wsUrl: fake.wsUrl,
      restUrl: fake.restUrl,
      symbols: ["BTCUSDT"],
      channels: ["trade", "order_book", "derivative_ticker", "liquidation"],
      sink: { publish: (e) => live.push(e) },
      logger,
      heartbeatIntervalMs: 0,
      bookIntervalMs: 0,
      openInterestIntervalMs: 60_000,
      restWeightPerMinute: 120_000,
      capture,
    });
    try {
      fake.setOpenInterest("BTCUSDT", "1234.5", 1_790_000_000_000);
      fake.updateBook("BTCUSDT", [["100.1", "1"]], [["100.2", "2"]]);
      await connector.start();
      await waitFor(() => connector.state === "subscribed", { message: "subscribed" });
      await waitFor(() => fake.restRequests.some((r) => r.path === "/fapi/v1/openInterest"), {
        message: "OI",
      });
      fake.updateBook("BTCUSDT", [["100.0", "3"]], [], { ids: 2 });
      await waitFor(() => connector.book("BTCUSDT")?.synced === true, { message: "synced" });
      fake.updateBook("BTCUSDT", [["100.1", "0"]], [["100.3", "1"]]);
      fake.pushTrade("BTCUSDT", {
        id: 7,
        price: "100.2",
        qty: "0.5",
        time: 1_790_000_000_100,
        buyerMaker: false,
      });
      fake.pushMarkPrice("BTCUSDT", {
        mark: "100.15",
        index: "100.1",
        funding: "0.0001",
        nextFunding: 1_790_006_400_000,
        time: 1_790_000_000_200,
      });
      fake.pushForceOrder("BTCUSDT", {
        side: "SELL",
        qty: "0.5",
        price: "99",
        avgPrice: "99.5",
        time: 1_790_000_000_300,
      });
      await waitFor(
        () =>
          live.some((e) => e.event_type === "liquidation") &&
          live.some(
            (e) =>
              e.event_type === "order_book" &&
              (e.payload as { sequence: number }).sequence === fake.trueBook("BTCUSDT").lastUpdateId,
          ),
        { message: "all live events" },
      );
    } finally {
      await connector.stop();
      await capture.close();
      await fake.close();
    }
    const replayed = await play(file, "binance-usdm");
    const market = (events: StandardEvent[]) =>
      events
        .filter((e) => isMarketDataType(e.event_type))
        .map((e) => {
          const { replayed_at: _ignored, ...payload } = e.payload as Record<string, unknown>;
          return { id: e.event_id, type: e.event_type, payload };
        });
    expect(market(live).length).toBeGreaterThanOrEqual(5);
    expect(market(replayed)).toEqual(market(live));
  });
});
