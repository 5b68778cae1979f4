import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StandardEvent, isMarketDataType } from "@market-scraper/events";
import { createLogger } from "@market-scraper/runtime";
import { FakeBybitServer, waitFor } from "@market-scraper/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { RawCaptureWriter, readCapture } from "../framework/raw-capture.js";
import { BybitConnector } from "./bybit-connector.js";
import type { BybitCategory } from "./bybit-instruments.js";
import { createBybitReplay } from "./bybit-replay.js";

const logger = createLogger({ service: "test", level: "silent" });
const fixture = (category: BybitCategory): string =>
  fileURLToPath(new URL(`../../fixtures/bybit-${category}-capture.jsonl`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "bybit-capture-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const market = (events: StandardEvent[]): StandardEvent[] =>
  events.filter((e) => isMarketDataType(e.event_type));

/** An event as comparable between runs: the receive and replay times are the run's, the rest is the exchange's. */
function comparable(event: StandardEvent): unknown {
  const { received_at: _r, replayed_at: _p, ...payload } = event.payload as Record<string, unknown>;
  return { ...event, payload };
}

async function play(file: string, category: BybitCategory): Promise<StandardEvent[]> {
  const events: StandardEvent[] = [];
  const replay = createBybitReplay({
    name: `bybit-${category}`,
    category,
    file,
    pace: { mode: "max" },
    sink: { publish: (e) => events.push(e) },
    logger,
    heartbeatIntervalMs: 0,
  });
  await replay.start();
  await replay.done();
  return events;
}

describe("replay of Bybit captures", () => {
  it("plays the shipped spot fixture: trades, the book (snapshot + delta), ticker, candle", async () => {
    const events = await play(fixture("spot"), "spot");
    for (const event of events) StandardEvent.parse(JSON.parse(JSON.stringify(event)));
    const types = market(events).map((e) => e.event_type);
    expect(types).toEqual(["order_book", "order_book", "trade", "trade", "ticker", "ohlcv"]);
    const books = events.filter((e) => e.event_type === "order_book").map((e) => e.payload);
    expect(books[1]).toMatchObject({
      symbol: "BTC-USDT",
      sequence: 59438061,
      bids: [
        [28162.57, 0.07562],
        [28161.04, 0.177474],
      ],
      asks: [[28162.58, 0.506829]],
    });
    expect(events.find((e) => e.event_type === "ticker")?.payload).toMatchObject({
      bid: 28162.57,
      ask: 28162.58,
    });
  });

  it("plays the shipped linear fixture: derivative_ticker merged from the delta, liquidations, book", async () => {
    const events = await play(fixture("linear"), "linear");
    for (const event of events) StandardEvent.parse(JSON.parse(JSON.stringify(event)));
    const count = (type: string): number => events.filter((e) => e.event_type === type).length;
    expect([count("ticker"), count("derivative_ticker"), count("order_book"), count("trade")]).toEqual([
      2, 2, 2, 1,
    ]);
    expect(count("liquidation")).toBe(2);
    expect(count("ohlcv")).toBe(1);
    const derivative = events.filter((e) => e.event_type === "derivative_ticker").at(-1)!.payload;
    expect(derivative).toMatchObject({ open_interest: 52780.1, mark_price: 28552.81, funding_rate: 0.0001 });
  });

  for (const category of ["spot", "linear"] as const) {
    it(`${category}: the fixture's frames sent live by the fake give the same events as its replay, and the live capture replays to them`, async () => {
      const fake = await FakeBybitServer.start({
        instruments: {
          linear: [
            { symbol: "BTCUSDT", baseCoin: "BTC", quoteCoin: "USDT" },
            { symbol: "ROSEUSDT", baseCoin: "ROSE", quoteCoin: "USDT" },
            { symbol: "PIPPINUSDT", baseCoin: "PIPPIN", quoteCoin: "USDT" },
          ],
        },
      });
      const file = join(dir, `${category}-live.jsonl`);
      const capture = new RawCaptureWriter(file);
      const live: StandardEvent[] = [];
      const connector = new BybitConnector({
        category,
        wsUrl: fake.wsUrl(category),
        restUrl: fake.restUrl,
        symbols: category === "spot" ? ["BTCUSDT"] : ["BTCUSDT", "ROSEUSDT", "PIPPINUSDT"],
        channels:
          category === "spot"
            ? ["trade", "order_book", "ticker", "ohlcv"]
            : ["trade", "order_book", "ticker", "ohlcv", "liquidation", "derivative_ticker"],
        intervals: ["5m"],
        bookIntervalMs: 0,
        sink: { publish: (e) => live.push(e) },
        logger,
        heartbeatIntervalMs: 0,
        capture,
      });
      try {
        await connector.start();
        await waitFor(() => connector.state === "subscribed", { message: "subscribed" });
        const frames: string[] = [];
        for await (const record of readCapture(fixture(category)))
          if (record.type === "frame" && record.frame.includes('"topic"')) frames.push(record.frame);
        for (const frame of frames) fake.sendRaw(category, frame);
        const expected = market(await play(fixture(category), category));
        await waitFor(() => market(live).length === expected.length, { message: "live events" });
        expect(market(live).map(comparable)).toEqual(expected.map(comparable));
      } finally {
        await connector.stop();
        await capture.close();
        await fake.close();
      }
      // The live run's own capture replays to the live run's events, receive times included.
      const replayed = market(await play(file, category));
      const withoutReplayTime = (e: StandardEvent): unknown => {
        const { replayed_at: _p, ...payload } = e.payload as Record<string, unknown>;
        return { ...e, payload };
      };
      expect(replayed.map(withoutReplayTime)).toEqual(market(live).map(withoutReplayTime));
    });
  }
});
