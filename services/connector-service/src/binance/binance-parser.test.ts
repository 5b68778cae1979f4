import { StandardEvent } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { TradeDeduplicator } from "../framework/trade-deduplicator.js";
import { binanceSpotRules, binanceUsdmRules } from "./binance-book-rules.js";
import { type BinanceFrameResult, BinanceParser, parseDepthSnapshot } from "./binance-parser.js";
import type { BinanceMarket } from "./binance-symbols.js";

// Frames below are the real ones of exchanges.md §2.3 / exchanges-derivatives.md §1 (official samples,
// tardis-node and crypto-crawler captures), as JSON.
const SPOT: BinanceMarket[] = [
  { rawSymbol: "BNBBTC", symbol: "BNB-BTC", base: "BNB", quote: "BTC" },
  { rawSymbol: "BTCUSDT", symbol: "BTC-USDT", base: "BTC", quote: "USDT" },
  { rawSymbol: "DOGEBNB", symbol: "DOGE-BNB", base: "DOGE", quote: "BNB" },
  { rawSymbol: "GNTBTC", symbol: "GNT-BTC", base: "GNT", quote: "BTC" },
];
const USDM: BinanceMarket[] = [{ rawSymbol: "BTCUSDT", symbol: "BTC-USDT", base: "BTC", quote: "USDT" }];
const RECEIVED = 1_790_000_000_000;

function spot(dedup?: TradeDeduplicator): BinanceParser {
  return new BinanceParser({ source: "binance", kind: "spot", markets: SPOT, ...(dedup ? { dedup } : {}) });
}
function usdm(): BinanceParser {
  return new BinanceParser({ source: "binance-usdm", kind: "usdm", markets: USDM });
}
function eventOf(result: BinanceFrameResult): StandardEvent {
  if (!("event" in result) || result.event === undefined)
    throw new Error(`no event: ${JSON.stringify(result)}`);
  // Every event the parser builds is valid by the schema.
  return StandardEvent.parse(JSON.parse(JSON.stringify(result.event)));
}

describe("BinanceParser: spot frames", () => {
  it("maps the real tardis @trade capture (with the since-removed b/a ids) to a trade", () => {
    const frame =
      '{"stream":"bnbbtc@trade","data":{"e":"trade","E":1567296001038,"s":"BNBBTC","t":60276726,"p":"0.00219650","q":"6.48000000","b":255533165,"a":255532831,"T":1567296001034,"m":true,"M":true}}';
    const event = eventOf(spot().parse(frame, RECEIVED));
    expect(event).toMatchObject({
      event_type: "trade",
      source: "binance",
      timestamp: "2019-09-01T00:00:01.034Z",
      payload: {
        symbol: "BNB-BTC",
        raw_symbol: "BNBBTC",
        price: 0.0021965,
        volume: 6.48,
        side: "sell",
        trade_id: "60276726",
        received_at: new Date(RECEIVED).toISOString(),
      },
    });
  });

  it("maps the official @trade sample; m false is a buy; the id is deterministic", () => {
    const data = {
      e: "trade",
      E: 1672515782136,
      s: "BNBBTC",
      t: 12345,
      p: "0.001",
      q: "100",
      T: 1672515782136,
      m: false,
      M: true,
    };
    const text = JSON.stringify({ stream: "bnbbtc@trade", data });
    const a = eventOf(spot().parse(text, RECEIVED));
    const b = eventOf(spot().parse(text, RECEIVED + 5));
    expect(a.payload).toMatchObject({ price: 0.001, volume: 100, side: "buy", trade_id: "12345" });
    expect(a.event_id).toBe(b.event_id);
  });

  it("drops a trade already seen (a re-sent trade after a reconnect) when de-duplicating", () => {
    const parser = spot(new TradeDeduplicator());
    const text =
      '{"stream":"bnbbtc@trade","data":{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}}';
    expect(parser.parse(text, RECEIVED)).toMatchObject({ kind: "trade" });
    expect(eventOf(parser.parse(text.replace("12345", "12346"), RECEIVED)).payload).toMatchObject({
      trade_id: "12346",
    });
    expect(parser.parse(text, RECEIVED)).toEqual({
      kind: "trade",
      rawSymbol: "BNBBTC",
      channel: "trade",
      event: undefined,
    });
  });

  it("maps the crypto-crawler kline capture: an open candle (x false) at its bucket's open time", () => {
    const frame =
      '{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1653818762502,"s":"BTCUSDT","k":{"t":1653818760000,"T":1653818819999,"s":"BTCUSDT","i":"1m","f":1384844002,"L":1384844032,"o":"29038.46000000","c":"29038.47000000","h":"29038.47000000","l":"29038.46000000","v":"0.20926000","n":31,"x":false,"q":"6076.58918320","V":"0.10436000","Q":"3030.45472920","B":"0"}}}';
    const event = eventOf(spot().parse(frame, RECEIVED));
    expect(event.timestamp).toBe("2022-05-29T10:06:00.000Z");
    expect(event.payload).toMatchObject({
      symbol: "BTC-USDT",
      open: 29038.46,
      close: 29038.47,
      high: 29038.47,
      low: 29038.46,
      volume: 0.20926,
      interval: "1m",
      closed: false,
      trades: 31,
    });
    const closed = eventOf(spot().parse(frame.replace('"x":false', '"x":true'), RECEIVED));
    expect(closed.payload).toMatchObject({ closed: true });
    // A closed bucket has one id whatever its last values (live and backfill agree).
    const again = eventOf(
      spot().parse(frame.replace('"x":false', '"x":true').replace('"n":31', '"n":32'), RECEIVED),
    );
    expect(again.event_id).toBe(closed.event_id);
  });

  it("maps the tardis @ticker capture: last price, 24h volumes and the frame's best bid/ask", () => {
    const frame = JSON.stringify({
      stream: "dogebnb@ticker",
      data: {
        e: "24hrTicker",
        E: 1569805259092,
        s: "DOGEBNB",
        p: "0.00000291",
        P: "2.068",
        w: "0.00014188",
        x: "0.00014069",
        c: "0.00014360",
        Q: "51135.00000000",
        b: "0.00014365",
        B: "7080.00000000",
        a: "0.00014498",
        A: "275033.00000000",
        o: "0.00014069",
        h: "0.00014550",
        l: "0.00013851",
        v: "20014582.00000000",
        q: "2839.62578157",
        O: 1569718859088,
        C: 1569805259088,
        F: 64171,
        L: 64684,
        n: 514,
      },
    });
    expect(eventOf(spot().parse(frame, RECEIVED)).payload).toMatchObject({
      symbol: "DOGE-BNB",
      price: 0.0001436,
      volume: 20014582,
      bid: 0.00014365,
      ask: 0.00014498,
      bid_volume: 7080,
      ask_volume: 275033,
      volume_quote_24h: 2839.62578157,
    });
  });

  it("maps the tardis diff-depth sequence and its snapshot; the spot U/u rules pick the first event", () => {
    const parser = spot();
    const frames = [
      '{"stream":"gntbtc@depth","data":{"e":"depthUpdate","E":1554076807698,"s":"GNTBTC","U":41603407,"u":41603413,"b":[["0.00002246","1215.00000000"],["0.00002245","2673.00000000"],["0.00002244","390.00000000"],["0.00002239","2126.00000000"]],"a":[["0.00002267","0.00000000"],["0.00002269","7840.00000000"]]}}',
      '{"stream":"gntbtc@depth","data":{"e":"depthUpdate","E":1554076808698,"s":"GNTBTC","U":41603414,"u":41603418,"b":[["0.00002248","114.00000000"],["0.00002246","375.00000000"]],"a":[["0.00002253","3945.00000000"]]}}',
      '{"stream":"gntbtc@depthSnapshot","generated":true,"data":{"lastUpdateId":41603417,"bids":[["0.00002248","114.00000000"],["0.00002246","370.00000000"],["0.00002245","2673.00000000"],["0.00002244","390.00000000"],["0.00002243","3425.00000000"]],"asks":[["0.00002253","3945.00000000"],["0.00002256","50641.00000000"],["0.00002258","1777.00000000"]]}}',
      '{"stream":"gntbtc@depth","data":{"e":"depthUpdate","E":1554076809699,"s":"GNTBTC","U":41603417,"u":41603419,"b":[],"a":[["0.00002257","0.00000000"],["0.00002262","6080.00000000"]]}}',
    ];
    const [d1, d2, snap, d3] = frames.map((f) => parser.parse(f, RECEIVED));
    expect(d1).toMatchObject({
      kind: "depth",
      rawSymbol: "GNTBTC",
      delta: { first: 41603407, last: 41603413 },
    });
    expect(d1).toMatchObject({
      delta: {
        asks: [
          ["0.00002267", "0.00000000"],
          ["0.00002269", "7840.00000000"],
        ],
      },
    });
    expect(snap).toMatchObject({ kind: "depth-snapshot", snapshot: { sequence: 41603417 } });
    if (
      d1?.kind !== "depth" ||
      d2?.kind !== "depth" ||
      d3?.kind !== "depth" ||
      snap?.kind !== "depth-snapshot"
    )
      throw new Error("kinds");
    // The first event is older than the snapshot; the second straddles lastUpdateId + 1; the third follows.
    expect(binanceSpotRules.firstAfterSnapshot(snap.snapshot, d1.delta)).toBe("drop");
    expect(binanceSpotRules.firstAfterSnapshot(snap.snapshot, d2.delta)).toBe("apply");
    expect(binanceSpotRules.next(d2.delta, d3.delta)).toBe("apply");
    // An event past the next id is a gap; one at or below the book's id is old.
    expect(binanceSpotRules.next(d2.delta, { first: 41603420, last: 41603421, bids: [], asks: [] })).toBe(
      "gap",
    );
    expect(binanceSpotRules.next(d2.delta, { first: 41603410, last: 41603418, bids: [], asks: [] })).toBe(
      "drop",
    );
    expect(
      binanceSpotRules.firstAfterSnapshot(snap.snapshot, {
        first: 41603419,
        last: 41603420,
        bids: [],
        asks: [],
      }),
    ).toBe("gap");
  });

  it("reads control frames: acks, wrapped and bare errors, serverShutdown", () => {
    const p = spot();
    expect(p.parse('{"result":null,"id":1}', RECEIVED)).toEqual({ kind: "ack", id: 1 });
    expect(p.parse('{"error":{"code":4,"msg":"Too many subscriptions"},"id":1}', RECEIVED)).toEqual({
      kind: "exchange-error",
      id: 1,
      code: 4,
      message: "Too many subscriptions",
    });
    expect(p.parse('{"code": 0, "msg": "Unknown property","id": 7}', RECEIVED)).toMatchObject({
      kind: "exchange-error",
      id: 7,
    });
    expect(
      p.parse('{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}', RECEIVED),
    ).toEqual({ kind: "shutdown" });
    expect(p.parse('{"e":"serverShutdown","E":1770123456789}', RECEIVED)).toEqual({ kind: "shutdown" });
  });

  it("rejects bad frames with a reason and never throws", () => {
    const p = spot();
    const trade = (data: Record<string, unknown>): string =>
      JSON.stringify({
        stream: "bnbbtc@trade",
        data: { e: "trade", E: 1, s: "BNBBTC", t: 1, p: "0.001", q: "1", T: 1, m: true, ...data },
      });
    expect(p.parse("not json", RECEIVED)).toMatchObject({ kind: "invalid", channel: "unknown" });
    expect(p.parse("[]", RECEIVED)).toMatchObject({ kind: "invalid" });
    expect(p.parse(trade({ p: 0.001 }), RECEIVED)).toMatchObject({
      kind: "invalid",
      channel: "trade",
      reason: "bad p (a JSON number, not a decimal string)",
    });
    expect(p.parse(trade({ q: "1e3" }), RECEIVED)).toMatchObject({ kind: "invalid", reason: "bad q" });
    expect(p.parse(trade({ t: -1 }), RECEIVED)).toMatchObject({ kind: "invalid", reason: "bad t" });
    expect(p.parse(trade({ s: "ETHBTC" }), RECEIVED)).toMatchObject({ kind: "invalid", channel: "trade" });
    expect(p.parse('{"stream":"xrpusdt@trade","data":{}}', RECEIVED)).toMatchObject({
      kind: "invalid",
      channel: "trade",
    });
    expect(p.parse('{"stream":"bnbbtc@whatever","data":{}}', RECEIVED)).toMatchObject({
      kind: "invalid",
      channel: "unknown",
    });
    expect(p.parse('{"stream":"bnbbtc@trade","data":{"__proto__":{"x":1}}}', RECEIVED)).toMatchObject({
      kind: "invalid",
    });
    const depth = (b: unknown): string =>
      JSON.stringify({
        stream: "bnbbtc@depth@100ms",
        data: { e: "depthUpdate", E: 1, s: "BNBBTC", U: 5, u: 6, b, a: [] },
      });
    expect(p.parse(depth([["0.1", 5]]), RECEIVED)).toMatchObject({
      kind: "invalid",
      channel: "depth",
      reason: "b[0] qty (a JSON number, not a decimal string)",
    });
    expect(p.parse(depth([["-0.1", "5"]]), RECEIVED)).toMatchObject({
      kind: "invalid",
      reason: "b[0] price",
    });
    expect(p.parse(depth("x"), RECEIVED)).toMatchObject({ kind: "invalid" });
    expect(parseDepthSnapshot({ lastUpdateId: "7", bids: [], asks: [] })).toBe("bad lastUpdateId");
  });
});

describe("BinanceParser: USDⓈ-M frames", () => {
  it("maps the real aggTrade line: trade id a, taker buy", () => {
    const frame =
      '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1738534577231,"s":"BTCUSDT","a":3412663610,"p":"97674.73000000","q":"0.00062000","f":4504797980,"l":4504797980,"T":1738534577231,"m":false,"M":true}}';
    expect(eventOf(usdm().parse(frame, RECEIVED))).toMatchObject({
      source: "binance-usdm",
      payload: { symbol: "BTC-USDT", price: 97674.73, volume: 0.00062, side: "buy", trade_id: "3412663610" },
    });
  });

  it("maps the tardis futures depth frame with pu; the futures rules chain on pu", () => {
    const frame =
      '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1573948821952,"T":1573948821948,"s":"BTCUSDT","U":687687944,"u":687687946,"pu":687687946,"b":[["8493.78","0.162"]],"a":[["4096.00000000","2.42541900"]]}}';
    const result = usdm().parse(frame, RECEIVED);
    expect(result).toMatchObject({
      kind: "depth",
      delta: {
        first: 687687944,
        last: 687687946,
        prev: 687687946,
        exchangeTime: 1573948821952,
        bids: [["8493.78", "0.162"]],
      },
    });
    // Without pu a futures delta is malformed.
    expect(
      usdm().parse(frame.replace(',\\"pu\\":687687946', "").replace(',"pu":687687946', ""), RECEIVED),
    ).toMatchObject({ kind: "invalid", reason: "bad pu" });
    const snap = { sequence: 100, bids: [], asks: [] };
    expect(
      binanceUsdmRules.firstAfterSnapshot(snap, { first: 90, last: 99, prev: 80, bids: [], asks: [] }),
    ).toBe("drop");
    expect(
      binanceUsdmRules.firstAfterSnapshot(snap, { first: 95, last: 105, prev: 94, bids: [], asks: [] }),
    ).toBe("apply");
    expect(
      binanceUsdmRules.firstAfterSnapshot(snap, { first: 101, last: 105, prev: 100, bids: [], asks: [] }),
    ).toBe("gap");
    const applied = { first: 95, last: 105, prev: 94, bids: [], asks: [] };
    expect(binanceUsdmRules.next(applied, { first: 110, last: 120, prev: 105, bids: [], asks: [] })).toBe(
      "apply",
    );
    expect(binanceUsdmRules.next(applied, { first: 110, last: 120, prev: 107, bids: [], asks: [] })).toBe(
      "gap",
    );
    expect(binanceUsdmRules.next(applied, { first: 95, last: 105, prev: 94, bids: [], asks: [] })).toBe(
      "drop",
    );
  });

  it("joins @bookTicker (L1) and @ticker (24h, no bid/ask on futures) into a ticker", () => {
    const p = usdm();
    const ticker = JSON.stringify({
      stream: "btcusdt@ticker",
      data: {
        e: "24hrTicker",
        E: 1612137603600,
        s: "BTCUSDT",
        p: "0",
        P: "0",
        w: "33100",
        c: "33136.10",
        Q: "0.010",
        o: "33000",
        h: "33500",
        l: "32800",
        v: "250000.123",
        q: "8275000000.5",
        O: 0,
        C: 1,
        F: 0,
        L: 1,
        n: 2,
      },
    });
    // No L1 yet: no ticker.
    expect(p.parse(ticker, RECEIVED)).toEqual({ kind: "ticker", rawSymbol: "BTCUSDT", event: undefined });
    const bookTicker =
      '{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":185130926750,"s":"BTCUSDT","b":"33134.42","B":"0.170","a":"33139.39","A":"0.380","T":1612137603568,"E":1612137603571}}';
    expect(p.parse(bookTicker, RECEIVED)).toEqual({ kind: "book-ticker", rawSymbol: "BTCUSDT" });
    expect(eventOf(p.parse(ticker, RECEIVED)).payload).toMatchObject({
      price: 33136.1,
      volume: 250000.123,
      bid: 33134.42,
      ask: 33139.39,
      bid_volume: 0.17,
      ask_volume: 0.38,
    });
  });

  it("maps the tardis markPrice capture to a derivative_ticker, with the open interest polled before it", () => {
    const p = usdm();
    const frame =
      '{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1597536008000,"s":"BTCUSDT","p":"11857.56000000","i":"11851.86949091","r":"0.00015640","T":1597564800000}}';
    const first = eventOf(p.parse(frame, RECEIVED));
    expect(first).toMatchObject({
      event_type: "derivative_ticker",
      timestamp: "2020-08-16T00:00:08.000Z",
      payload: {
        symbol: "BTC-USDT",
        instrument: "perp",
        mark_price: 11857.56,
        index_price: 11851.86949091,
        funding_rate: 0.0001564,
        next_funding_time: "2020-08-16T08:00:00.000Z",
      },
    });
    expect(first.payload).not.toHaveProperty("open_interest");
    expect(
      p.parse(
        '{"stream":"btcusdt@openInterest","generated":true,"data":{"symbol":"BTCUSDT","openInterest":"26286.181","time":1597536007000}}',
        RECEIVED,
      ),
    ).toEqual({ kind: "open-interest", rawSymbol: "BTCUSDT" });
    const second = eventOf(p.parse(frame, RECEIVED));
    expect(second.payload).toMatchObject({ open_interest: 26286.181 });
    expect(second.event_id).not.toBe(first.event_id);
    const negative = eventOf(p.parse(frame.replace('"0.00015640"', '"-0.00010000"'), RECEIVED));
    expect(negative.payload).toMatchObject({ funding_rate: -0.0001 });
  });

  it("maps the tardis and forum forceOrder captures to liquidations (side of the forced order)", () => {
    const p = usdm();
    const tardis =
      '{"stream":"btcusdt@forceOrder","data":{"e":"forceOrder","E":1584059031426,"o":{"s":"BTCUSDT","S":"BUY","o":"LIMIT","f":"IOC","q":"0.014","p":"4793.91","ap":"4706.04","X":"FILLED","l":"0.015","z":"0.014","T":1584059031421}}}';
    expect(eventOf(p.parse(tardis, RECEIVED))).toMatchObject({
      event_type: "liquidation",
      timestamp: "2020-03-13T00:23:51.421Z",
      payload: {
        symbol: "BTC-USDT",
        side: "buy",
        price: 4706.04,
        volume: 0.014,
        raw_side: "BUY",
        instrument: "perp",
      },
    });
    const forum =
      '{"e":"forceOrder","E":1650898329201,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.288","p":"38886.54","ap":"39021.00","X":"FILLED","l":"0.288","z":"0.288","T":1650898329196}}';
    expect(eventOf(p.parse(forum, RECEIVED)).payload).toMatchObject({
      side: "sell",
      price: 39021,
      volume: 0.288,
    });
    expect(p.parse(tardis.replace('"S":"BUY"', '"S":"HOLD"'), RECEIVED)).toMatchObject({
      kind: "invalid",
      channel: "forceOrder",
    });
  });
});
