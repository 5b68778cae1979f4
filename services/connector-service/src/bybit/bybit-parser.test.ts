import { StandardEvent } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { TradeDeduplicator } from "../framework/trade-deduplicator.js";
import type { BybitInstrument } from "./bybit-instruments.js";
import { type BybitFrameResult, BybitParser } from "./bybit-parser.js";

// Frames below are the samples of shared/reference/exchanges.md §5 and exchanges-derivatives.md §2
// (official Bybit docs and tardis-node captures), verbatim where the reference has them as JSON.
const RECEIVED = 1_680_673_822_900;

const spotInstruments: BybitInstrument[] = [
  { rawSymbol: "BTCUSDT", symbol: "BTC-USDT", category: "spot", instrument: "spot" },
];
const linearInstruments: BybitInstrument[] = [
  { rawSymbol: "BTCUSDT", symbol: "BTC-USDT", category: "linear", instrument: "perp" },
  { rawSymbol: "ROSEUSDT", symbol: "ROSE-USDT", category: "linear", instrument: "perp" },
  { rawSymbol: "PIPPINUSDT", symbol: "PIPPIN-USDT", category: "linear", instrument: "perp" },
];

const spot = (dedup?: TradeDeduplicator): BybitParser =>
  new BybitParser({
    source: "bybit-spot",
    category: "spot",
    instruments: spotInstruments,
    ...(dedup ? { dedup } : {}),
  });
const linear = (): BybitParser =>
  new BybitParser({ source: "bybit-linear", category: "linear", instruments: linearInstruments });

function expectValid(events: readonly StandardEvent[]): void {
  for (const event of events) {
    const wire = JSON.parse(JSON.stringify(event)) as unknown;
    expect(StandardEvent.parse(wire)).toEqual(wire);
  }
}

function only<K extends BybitFrameResult["kind"]>(
  result: BybitFrameResult,
  kind: K,
): Extract<BybitFrameResult, { kind: K }> {
  expect(result.kind, JSON.stringify(result)).toBe(kind);
  return result as Extract<BybitFrameResult, { kind: K }>;
}

const LINEAR_TRADE = `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"seq":1783284617}]}`;
const SPOT_TRADES = `{"topic":"publicTrade.BTCUSDT","ts":1680652847526,"type":"snapshot","data":[{"i":"2290000000050703789","T":1680652847524,"p":"28165.38","v":"0.041732","S":"Sell","s":"BTCUSDT","BT":false},{"i":"2290000000050703790","T":1680652847524,"p":"28165.38","v":"0.008513","S":"Sell","s":"BTCUSDT","BT":false}]}`;
const SPOT_TICKER = `{"topic":"tickers.BTCUSDT","ts":1673853746003,"type":"snapshot","cs":2588407389,"data":{"symbol":"BTCUSDT","lastPrice":"21109.77","highPrice24h":"21426.99","lowPrice24h":"20575","prevPrice24h":"20704.93","volume24h":"6780.866843","turnover24h":"141946527.22907118","price24hPcnt":"0.0196","usdIndexPrice":"21120.2400136"}}`;
const LINEAR_TICKER = `{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","tickDirection":"ZeroMinusTick","price24hPcnt":"0.023333","lastPrice":"28550.70","prevPrice24h":"27899.70","highPrice24h":"28797.10","lowPrice24h":"27842.80","prevPrice1h":"28474.70","markPrice":"28552.81","indexPrice":"28562.25","openInterest":"52774.528","openInterestValue":"1506861070.82","turnover24h":"4273027716.4294","volume24h":"151185.5160","nextFundingTime":"1680681600000","fundingRate":"0.0001","bid1Price":"28550.70","bid1Size":"2.049","ask1Price":"28550.80","ask1Size":"15.328"},"cs":50193544280,"ts":1680673821770}`;
const LINEAR_TICKER_DELTA = `{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","price24hPcnt":"0.023362","openInterest":"52780.1","fundingRate":"0.00012","bid1Price":"28560.00","bid1Size":"3.5","ask1Price":"28560.50","ask1Size":"7.1"},"cs":50193544290,"ts":1680673822776}`;
const BOOK_SNAPSHOT = `{"topic":"orderbook.50.BTCUSDT","ts":1680652808065,"type":"snapshot","data":{"s":"BTCUSDT","b":[["28162.57","0.07562"]],"a":[["28162.58","0.506829"]],"u":59438060,"seq":4281282229}}`;
const BOOK_DELTA = `{"topic":"orderbook.50.BTCUSDT","ts":1680652808085,"type":"delta","data":{"s":"BTCUSDT","b":[["28161.04","0.177474"],["28145.71","0"]],"a":[["28184.33","0"]],"u":59438061,"seq":4281282232}}`;
const KLINE = `{"topic":"kline.5.BTCUSDT","data":[{"start":1672324800000,"end":1672325099999,"interval":"5","open":"16649.5","close":"16677","high":"16677","low":"16608","volume":"2.081","turnover":"34666.4005","confirm":false,"timestamp":1672324988882}],"ts":1672324988882,"type":"snapshot"}`;
const LIQUIDATION = `{"topic":"allLiquidation.ROSEUSDT","type":"snapshot","ts":1739502303204,"data":[{"T":1739502302929,"s":"ROSEUSDT","S":"Sell","v":"20000","p":"0.04499"}]}`;

describe("BybitParser", () => {
  it("maps a linear publicTrade frame (official sample) to a trade with its UUID trade id", () => {
    const result = only(linear().parse(LINEAR_TRADE, RECEIVED), "trades");
    expect(result.problems).toEqual([]);
    expect(result.events.map((e) => e.payload)).toEqual([
      {
        symbol: "BTC-USDT",
        raw_symbol: "BTCUSDT",
        price: 16578.5,
        volume: 0.001,
        timestamp: "2022-12-29T09:01:26.865Z",
        side: "buy",
        trade_id: "20f43950-d8dd-5b31-9112-a178eb6023af",
        received_at: new Date(RECEIVED).toISOString(),
      },
    ]);
    expect(result.events[0]!.source).toBe("bybit-linear");
    expectValid(result.events);
  });

  it("maps a spot publicTrade capture: numeric string ids above 2^53 kept exactly, one correlation id", () => {
    const result = only(spot().parse(SPOT_TRADES, RECEIVED), "trades");
    expect(result.events.map((e) => [e.payload.trade_id, e.payload.side, e.payload.price])).toEqual([
      ["2290000000050703789", "sell", 28165.38],
      ["2290000000050703790", "sell", 28165.38],
    ]);
    const [a, b] = result.events;
    expect(a!.event_id).not.toBe(b!.event_id);
    expect(b!.correlation_id).toBe(a!.event_id);
    // Deterministic: the same frame parsed again gives the same ids.
    expect(only(spot().parse(SPOT_TRADES, RECEIVED + 5), "trades").events.map((e) => e.event_id)).toEqual([
      a!.event_id,
      b!.event_id,
    ]);
    expectValid(result.events);
  });

  it("drops trades already seen when de-duplicating (a re-sent frame)", () => {
    const parser = spot(new TradeDeduplicator(100));
    expect(only(parser.parse(SPOT_TRADES, RECEIVED), "trades").events).toHaveLength(2);
    const again = only(parser.parse(SPOT_TRADES, RECEIVED + 1000), "trades");
    expect(again.events).toEqual([]);
    expect(again.duplicates).toBe(2);
  });

  it("keeps the good trades of a frame and names the bad ones", () => {
    const frame = JSON.parse(SPOT_TRADES) as { data: Record<string, unknown>[] };
    frame.data[0]!.p = 28165.38; // a JSON number where Bybit sends a string
    const result = only(spot().parse(JSON.stringify(frame), RECEIVED), "trades");
    expect(result.events.map((e) => e.payload.trade_id)).toEqual(["2290000000050703790"]);
    expect(result.problems).toEqual(["data[0]: bad p (a JSON number, not a decimal string)"]);
  });

  it("spot ticker: 24h from tickers, best bid/ask from orderbook.1 (spot tickers carry none)", () => {
    const parser = spot();
    // No bid/ask yet: no ticker event.
    expect(only(parser.parse(SPOT_TICKER, RECEIVED), "ticker").ticker).toBeUndefined();
    const l1 = `{"topic":"orderbook.1.BTCUSDT","ts":1673853746000,"type":"snapshot","data":{"s":"BTCUSDT","b":[["21109.76","0.5"]],"a":[["21109.77","0.25"]],"u":1,"seq":1}}`;
    expect(parser.parse(l1, RECEIVED).kind).toBe("l1");
    const ticker = only(parser.parse(SPOT_TICKER, RECEIVED), "ticker");
    expect(ticker.derivative).toBeUndefined();
    expect(ticker.ticker?.payload).toEqual({
      symbol: "BTC-USDT",
      raw_symbol: "BTCUSDT",
      price: 21109.77,
      volume: 6780.866843,
      bid: 21109.76,
      ask: 21109.77,
      bid_volume: 0.5,
      ask_volume: 0.25,
      timestamp: "2023-01-16T07:22:26.003Z",
      received_at: new Date(RECEIVED).toISOString(),
      volume_quote_24h: Number("141946527.22907118"),
      prev_day_price: 20704.93,
      high_24h: 21426.99,
      low_24h: 20575,
    });
    expectValid([ticker.ticker!]);
  });

  it("linear tickers: a delta is merged onto the snapshot; derivative_ticker carries funding, mark, index, OI", () => {
    const parser = linear();
    const first = only(parser.parse(LINEAR_TICKER, RECEIVED), "ticker");
    expect(first.derivative?.payload).toEqual({
      symbol: "BTC-USDT",
      raw_symbol: "BTCUSDT",
      timestamp: "2023-04-05T05:50:21.770Z",
      instrument: "perp",
      received_at: new Date(RECEIVED).toISOString(),
      funding_rate: 0.0001,
      mark_price: 28552.81,
      index_price: 28562.25,
      open_interest: 52774.528,
      open_interest_value: 1506861070.82,
      next_funding_time: "2023-04-05T08:00:00.000Z",
    });
    expect(first.ticker?.payload).toMatchObject({
      price: 28550.7,
      bid: 28550.7,
      ask: 28550.8,
      volume: 151185.516,
    });
    const delta = only(parser.parse(LINEAR_TICKER_DELTA, RECEIVED), "ticker");
    // Absent = unchanged: mark, index and next funding time stay; OI, funding and bid/ask move.
    expect(delta.derivative?.payload).toMatchObject({
      funding_rate: 0.00012,
      open_interest: 52780.1,
      mark_price: 28552.81,
      index_price: 28562.25,
      next_funding_time: "2023-04-05T08:00:00.000Z",
      timestamp: "2023-04-05T05:50:22.776Z",
    });
    expect(delta.ticker?.payload).toMatchObject({
      price: 28550.7,
      bid: 28560,
      ask: 28560.5,
      bid_volume: 3.5,
    });
    expectValid([first.ticker!, first.derivative!, delta.ticker!, delta.derivative!]);
    // A delta that moves only the best bid/ask makes no derivative_ticker.
    const bboOnly = `{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","bid1Price":"28561.00"},"cs":1,"ts":1680673822876}`;
    const third = only(parser.parse(bboOnly, RECEIVED), "ticker");
    expect(third.derivative).toBeUndefined();
    expect(third.ticker?.payload.bid).toBe(28561);
  });

  it("refuses a tickers delta before any snapshot", () => {
    const result = only(linear().parse(LINEAR_TICKER_DELTA, RECEIVED), "invalid");
    expect(result.reason).toMatch(/delta before any snapshot/);
  });

  it("orderbook: a snapshot and a delta (tardis pair) as the engine's snapshot/delta, text kept", () => {
    const parser = spot();
    const snapshot = only(parser.parse(BOOK_SNAPSHOT, RECEIVED), "book");
    expect(snapshot.update).toEqual({
      type: "snapshot",
      snapshot: { sequence: 59438060, bids: [["28162.57", "0.07562"]], asks: [["28162.58", "0.506829"]] },
    });
    expect(snapshot.exchangeTime).toBe(1680652808065);
    const delta = only(parser.parse(BOOK_DELTA, RECEIVED), "book");
    expect(delta.update).toEqual({
      type: "delta",
      delta: {
        last: 59438061,
        bids: [
          ["28161.04", "0.177474"],
          ["28145.71", "0"],
        ],
        asks: [["28184.33", "0"]],
        exchangeTime: 1680652808085,
      },
    });
  });

  it("orderbook: refuses bad levels, a zero size in a snapshot and a bad u", () => {
    const parser = spot();
    const bad = (mutate: (d: Record<string, unknown>) => void, text = BOOK_SNAPSHOT): string => {
      const frame = JSON.parse(text) as { data: Record<string, unknown> };
      mutate(frame.data);
      return only(parser.parse(JSON.stringify(frame), RECEIVED), "invalid").reason;
    };
    expect(bad((d) => (d.b = [[28162.57, "0.07562"]]))).toMatch(/b\[0\] bad price/);
    expect(bad((d) => (d.a = [["28162.58", "0"]]))).toMatch(/zero size in a snapshot/);
    expect(bad((d) => (d.u = "59438060"))).toBe("bad u");
    expect(bad((d) => (d.b = [["1e5", "1"]]), BOOK_DELTA)).toMatch(/bad price/);
  });

  it("kline: an open candle (official sample) → ohlcv with closed false; confirm true → closed with a stable id", () => {
    const parser = spot();
    const open = only(parser.parse(KLINE, RECEIVED), "kline");
    expect(open.events.map((e) => e.payload)).toEqual([
      {
        symbol: "BTC-USDT",
        raw_symbol: "BTCUSDT",
        open: 16649.5,
        high: 16677,
        low: 16608,
        close: 16677,
        volume: 2.081,
        volume_quote: 34666.4005,
        timestamp: "2022-12-29T14:40:00.000Z",
        interval: "5m",
        closed: false,
        received_at: new Date(RECEIVED).toISOString(),
      },
    ]);
    const closedText = KLINE.replace('"confirm":false', '"confirm":true');
    const closedA = only(parser.parse(closedText, RECEIVED), "kline").events[0]!;
    const closedB = only(
      parser.parse(closedText.replace('"close":"16677"', '"close":"16677.5"'), RECEIVED),
      "kline",
    ).events[0]!;
    expect(closedA.payload.closed).toBe(true);
    // One closed candle per bucket: its id depends on the bucket only.
    expect(closedB.event_id).toBe(closedA.event_id);
    expect(open.events[0]!.event_id).not.toBe(closedA.event_id);
    expectValid([...open.events, closedA]);
  });

  it("allLiquidation (official sample): S names the position, side is the forced order's", () => {
    const result = only(linear().parse(LIQUIDATION, RECEIVED), "liquidations");
    expect(result.events.map((e) => e.payload)).toEqual([
      {
        symbol: "ROSE-USDT",
        raw_symbol: "ROSEUSDT",
        side: "buy",
        raw_side: "Sell",
        price: 0.04499,
        volume: 20000,
        timestamp: "2025-02-14T03:05:02.929Z",
        instrument: "perp",
        received_at: new Date(RECEIVED).toISOString(),
      },
    ]);
    const capture = `{"topic":"allLiquidation.PIPPINUSDT","type":"snapshot","ts":1740480207578,"data":[{"T":1740480207110,"s":"PIPPINUSDT","S":"Sell","v":"2846","p":"0.02456"}]}`;
    expect(only(linear().parse(capture, RECEIVED), "liquidations").events[0]!.payload.volume).toBe(2846);
    expectValid(result.events);
  });

  it("acks and pongs of both categories", () => {
    const parser = spot();
    expect(
      parser.parse(
        `{"success":true,"ret_msg":"subscribe","conn_id":"2324d924-aa4d-45b0-a858-7b8be29ab52b","req_id":"10001","op":"subscribe"}`,
        RECEIVED,
      ),
    ).toEqual({ kind: "ack", op: "subscribe", success: true, reqId: "10001", message: "subscribe" });
    expect(
      parser.parse(
        `{"success":false,"ret_msg":"error:handler not found,topic:publicTrade.NOTASYMBOL","conn_id":"da7tne17jutmkv5im010-bcdap","req_id":"","op":"subscribe"}`,
        RECEIVED,
      ),
    ).toMatchObject({
      kind: "ack",
      success: false,
      message: "error:handler not found,topic:publicTrade.NOTASYMBOL",
    });
    expect(
      parser.parse(
        `{"success":true,"ret_msg":"pong","conn_id":"0970e817-426e-429a-a679-ff7f55e0b16a","op":"ping"}`,
        RECEIVED,
      ),
    ).toEqual({ kind: "pong" });
    expect(
      parser.parse(
        `{"success":true,"ret_msg":"pong","conn_id":"465772b1","req_id":"","op":"ping"}`,
        RECEIVED,
      ),
    ).toEqual({ kind: "pong" });
    expect(parser.parse(`{"args":["1672916271846"],"op":"pong"}`, RECEIVED)).toEqual({ kind: "pong" });
  });

  it("never throws on garbage: typed invalid results", () => {
    const parser = linear();
    for (const text of [
      "",
      "not json",
      "[]",
      "null",
      `{"topic":"nope.BTCUSDT","data":{}}`,
      `{"topic":"publicTrade.BTCUSDT","data":{}}`,
      `{"topic":"tickers.BTCUSDT","type":"snapshot","ts":1,"data":{"symbol":"BTCUSDT","lastPrice":7}}`,
      `{"topic":"orderbook.50.XYZ","type":"snapshot","ts":1,"data":{"s":"XYZ","b":[],"a":[],"u":1}}`,
      `{"topic":"kline.7.BTCUSDT","data":[]}`,
      `{"__proto__":{"x":1},"topic":"publicTrade.BTCUSDT","data":[]}`,
    ]) {
      expect(parser.parse(text, RECEIVED).kind, text).toBe("invalid");
    }
  });
});
