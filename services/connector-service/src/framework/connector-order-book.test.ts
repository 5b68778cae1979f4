import { StandardEvent } from "@market-scraper/events";
import { createLogger } from "@market-scraper/runtime";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { Connector, type ConnectorOptions, type ConnectorOrderBookOptions } from "./connector.js";
import { createPromConnectorMetrics } from "./connector-metrics.js";
import type { OrderBookSync } from "./order-book/order-book-sync.js";
import type { SequenceRules } from "./order-book/types.js";
import { ManualScheduler } from "./scheduler.js";

const rules: SequenceRules = {
  firstAfterSnapshot: (s, d) => (d.last <= s.sequence ? "drop" : d.last === s.sequence + 1 ? "apply" : "gap"),
  next: (last, d) => (d.last <= last.last ? "drop" : d.last === last.last + 1 ? "apply" : "gap"),
};

/** A connector with two stream-snapshot books, driven by the test. */
class BookConnector extends Connector {
  readonly books = new Map<string, OrderBookSync>();
  constructor(options: ConnectorOptions) {
    super(options);
  }
  protected async onStart(): Promise<void> {
    for (const [symbol, rawSymbol] of [
      ["BTC-USDT", "BTCUSDT"],
      ["ETH-USDT", "ETHUSDT"],
    ] as const) {
      const options: ConnectorOrderBookOptions = { symbol, rawSymbol, rules, depth: 2, intervalMs: 0 };
      this.books.set(symbol, this.createOrderBook(options));
    }
    this.setState("subscribed");
    return Promise.resolve();
  }
  protected onStop(): Promise<void> {
    return Promise.resolve();
  }
}

describe("Connector.createOrderBook", () => {
  it("publishes valid order_book events, reports a resync per symbol (error, status, health, metric)", async () => {
    const scheduler = new ManualScheduler(1_700_000_000_000);
    const events: StandardEvent[] = [];
    const registry = new Registry();
    const connector = new BookConnector({
      name: "fakex",
      sink: { publish: (e) => events.push(e) },
      logger: createLogger({ service: "test", level: "silent" }),
      scheduler,
      metrics: createPromConnectorMetrics(registry),
      heartbeatIntervalMs: 0,
    });
    await connector.start();
    expect(connector.health()).toMatchObject({
      status: "degraded",
      detail: "order books not in sync: BTC-USDT, ETH-USDT",
    });
    const btc = connector.books.get("BTC-USDT")!;
    const eth = connector.books.get("ETH-USDT")!;
    btc.onSnapshot({
      sequence: 10,
      bids: [
        ["100.50", "1.5"],
        ["100.25", "2"],
        ["100", "3"],
      ],
      asks: [["101", "0.5"]],
      exchangeTime: 1_700_000_000_123,
    });
    eth.onSnapshot({ sequence: 5, bids: [["2000", "1"]], asks: [["2001", "1"]] });
    expect(connector.health().status).toBe("healthy");

    const books = events.filter((e) => e.event_type === "order_book");
    expect(books).toHaveLength(2);
    const first = StandardEvent.parse(books[0]);
    expect(first).toMatchObject({
      source: "fakex",
      timestamp: "2023-11-14T22:13:20.123Z",
      payload: {
        symbol: "BTC-USDT",
        raw_symbol: "BTCUSDT",
        bid: 100.5,
        ask: 101,
        bid_volume: 1.5,
        ask_volume: 0.5,
        bids: [
          [100.5, 1.5],
          [100.25, 2],
        ],
        asks: [[101, 0.5]],
        sequence: 10,
      },
    });
    const synced = events.filter(
      (e) => e.event_type === "connector_status" && e.payload.channel === "order_book",
    );
    expect(synced.map((e) => [e.payload.symbols, e.payload.status])).toEqual([
      [["BTC-USDT"], "subscribed"],
      [["ETH-USDT"], "subscribed"],
    ]);

    // A gap on BTC only.
    const before = events.length;
    btc.onDelta({ last: 12, bids: [["100.5", "0"]], asks: [] });
    const after = events.slice(before);
    expect(after.filter((e) => e.event_type === "order_book")).toEqual([]);
    const error = after.find((e) => e.event_type === "error")!;
    expect(error.payload).toMatchObject({
      error_code: "BOOK_RESYNC",
      details: { symbol: "BTC-USDT", raw_symbol: "BTCUSDT", reason: "gap" },
    });
    const status = after.find((e) => e.event_type === "connector_status")!;
    expect(status.payload).toMatchObject({
      connector: "fakex",
      status: "reconnecting",
      previous_status: "subscribed",
      channel: "order_book",
      symbols: ["BTC-USDT"],
    });
    expect(connector.state).toBe("subscribed");
    expect(connector.health()).toMatchObject({
      status: "degraded",
      detail: "order books not in sync: BTC-USDT",
    });
    expect(eth.synced).toBe(true);
    const metrics = await registry.metrics();
    expect(metrics).toContain('market_scraper_connector_book_resyncs_total{source="fakex",reason="gap"} 1');
    expect(metrics).toContain('market_scraper_connector_books{source="fakex",state="synced"} 1');
    expect(metrics).toContain('market_scraper_connector_books{source="fakex",state="waiting"} 1');

    btc.onSnapshot({ sequence: 20, bids: [["99", "1"]], asks: [["101", "1"]] });
    expect(connector.health().status).toBe("healthy");
    expect(events.at(-1)!.payload).toMatchObject({ symbol: "BTC-USDT", sequence: 20 });
    await connector.stop();
    expect(btc.state).toBe("closed");
  });
});
