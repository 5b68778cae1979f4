import { StandardEvent } from "@market-scraper/events";
import { describe, expect, it, vi } from "vitest";
import { TradeDeduplicator } from "../framework/trade-deduplicator.js";
import { type FrameResult, HyperliquidParser } from "./hyperliquid-parser.js";
import type { HyperliquidMarket } from "./hyperliquid-symbols.js";

// Frames below are the samples of shared/reference/exchanges.md §1 (tardis-node captures, ccxt comments,
// probes of the live server), verbatim where the reference has them as JSON.
const markets: HyperliquidMarket[] = [
  { coin: "BTC", symbol: "BTC-USD", kind: "perp" },
  { coin: "BANANA", symbol: "BANANA-USD", kind: "perp" },
  { coin: "SHIA", symbol: "SHIA-USD", kind: "perp" },
  { coin: "MOODENG", symbol: "MOODENG-USD", kind: "perp" },
  { coin: "@162", symbol: "USDT0-USDC", kind: "spot" },
  { coin: "@2", symbol: "HFUN-USDC", kind: "spot" },
];
const RECEIVED = 1_790_232_216_500;

function parser(): HyperliquidParser {
  return new HyperliquidParser({ markets });
}

function eventsOf(result: FrameResult): StandardEvent[] {
  switch (result.kind) {
    case "trades":
      return result.events;
    case "book":
    case "bbo":
    case "asset-ctx":
      return result.event ? [result.event] : [];
    case "candle":
      return [result.event];
    default:
      return [];
  }
}

/** Every event of the fast path must be a valid StandardEvent, unchanged by validation. */
function expectValid(events: StandardEvent[]): void {
  for (const event of events) {
    const parsed = StandardEvent.parse(JSON.parse(JSON.stringify(event)));
    expect(parsed).toEqual(JSON.parse(JSON.stringify(event)));
  }
}

describe("HyperliquidParser", () => {
  it("maps a trades frame (tardis capture) to trade events with exact numbers and ISO times", () => {
    const text = JSON.stringify({
      channel: "trades",
      data: [
        {
          coin: "BTC",
          side: "B",
          px: "69997.0",
          sz: "0.38111",
          time: 1730160006192,
          hash: "0x40d169aa50ad8a32b44a04156eee0201d8002e5c6456b7c1ae175e381f73f9dd",
          tid: 1016375172059570,
        },
        {
          coin: "BTC",
          side: "B",
          px: "69997.0",
          sz: "0.33458",
          time: 1730160006192,
          hash: "0x40d169aa50ad8a32b44a04156eee0201d8002e5c6456b7c1ae175e381f73f9dd",
          tid: 479312521152049,
        },
      ],
    });
    const result = parser().parse(text, RECEIVED);
    expect(result.kind).toBe("trades");
    const events = eventsOf(result);
    expectValid(events);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      event_type: "trade",
      source: "hyperliquid",
      timestamp: "2024-10-29T00:00:06.192Z",
      priority: 5,
      payload: {
        symbol: "BTC-USD",
        raw_symbol: "BTC",
        price: 69997,
        volume: 0.38111,
        timestamp: "2024-10-29T00:00:06.192Z",
        side: "buy",
        trade_id: "1016375172059570",
        received_at: new Date(RECEIVED).toISOString(),
      },
    });
    expect(events[1]!.payload).toMatchObject({ volume: 0.33458, trade_id: "479312521152049" });
    // One frame, one correlation: the trades of one block share the first trade's id.
    expect(events[1]!.correlation_id).toBe(events[0]!.event_id);
  });

  it("gives a re-sent trade the same event id (and a different trade a different one)", () => {
    const live =
      '{"channel":"trades","data":[{"coin":"BTC","side":"A","px":"84143.0","sz":"0.00036","time":1790232216193,"hash":"0x7ab608dad75f7ce37c2f044516391f02023a00c072529bb51e7eb42d965356ce","tid":1045359869404765,"users":["0x9aa589355bf745db9784c8ef3c646360f11b58af","0x8269c0a4f5f1a14582e0aa46856a234893c41970"]}]}';
    const a = eventsOf(parser().parse(live, RECEIVED))[0]!;
    const b = eventsOf(parser().parse(live, RECEIVED + 5_000))[0]!;
    expect(a.payload).toMatchObject({ side: "sell", price: 84143, volume: 0.00036 });
    expect(b.event_id).toBe(a.event_id);
    const other = eventsOf(
      parser().parse(live.replace("1045359869404765", "1045359869404766"), RECEIVED),
    )[0]!;
    expect(other.event_id).not.toBe(a.event_id);
    expectValid([a, b, other]);
  });

  it("keeps the good trades of a frame and names the bad ones", () => {
    const text = JSON.stringify({
      channel: "trades",
      data: [
        { coin: "BTC", side: "B", px: "1.5", sz: "2", time: 1730160006192, tid: 1 },
        { coin: "BTC", side: "X", px: "", sz: "2", time: 1730160006192, tid: 2 },
        { coin: "NOPE", side: "B", px: "1", sz: "1", time: 1730160006192, tid: 3 },
        { coin: "BTC", side: "A", px: "1.5", sz: "Infinity", time: "soon", tid: 4.5 },
      ],
    });
    const result = parser().parse(text, RECEIVED);
    if (result.kind !== "trades") throw new Error(result.kind);
    expect(result.events.map((e) => e.payload.trade_id)).toEqual(["1"]);
    expect(result.problems).toEqual([
      "trades[1]: bad px, side",
      'trades[2]: unknown coin "NOPE"',
      "trades[3]: bad sz, time, tid",
    ]);
  });

  it("maps l2Book snapshots: top of book in the required fields, depth in bids/asks", () => {
    const text = JSON.stringify({
      channel: "l2Book",
      data: {
        coin: "BANANA",
        time: 1730160007687,
        levels: [
          [
            { px: "59.8", sz: "3.4", n: 1 },
            { px: "59.778", sz: "1.6", n: 1 },
          ],
          [
            { px: "59.811", sz: "2.9", n: 1 },
            { px: "59.832", sz: "17.6", n: 1 },
          ],
        ],
      },
    });
    const events = eventsOf(parser().parse(text, RECEIVED));
    expectValid(events);
    expect(events[0]).toMatchObject({
      event_type: "order_book",
      timestamp: "2024-10-29T00:00:07.687Z",
      payload: {
        symbol: "BANANA-USD",
        bid: 59.8,
        ask: 59.811,
        bid_volume: 3.4,
        ask_volume: 2.9,
        bids: [
          [59.8, 3.4],
          [59.778, 1.6],
        ],
        asks: [
          [59.811, 2.9],
          [59.832, 17.6],
        ],
      },
    });
  });

  it("publishes no top of book for an empty (delisted) book", () => {
    const result = parser().parse(
      '{"channel":"l2Book","data":{"coin":"SHIA","time":1730160007687,"levels":[[],[]]}}',
      RECEIVED,
    );
    expect(result).toMatchObject({ kind: "book", coin: "SHIA", event: undefined });
  });

  it("maps a candle frame whose data is one object (numbers as strings), and the documented array too", () => {
    const frame = {
      t: 1710146280000,
      T: 1710146339999,
      s: "BTC",
      i: "1m",
      o: "71400.0",
      c: "71411.0",
      h: "71422.0",
      l: "71389.0",
      v: "1.20407",
      n: 20,
    };
    const p = parser();
    const one = p.parse(JSON.stringify({ channel: "candle", data: frame }), 1710146300000);
    const asArray = p.parse(JSON.stringify({ channel: "candle", data: [frame] }), 1710146300000);
    for (const result of [one, asArray]) {
      const events = eventsOf(result);
      expectValid(events);
      expect(result).toMatchObject({ kind: "candle", coin: "BTC", interval: "1m", openTime: 1710146280000 });
      expect(events[0]!.payload).toMatchObject({
        symbol: "BTC-USD",
        open: 71400,
        high: 71422,
        low: 71389,
        close: 71411,
        volume: 1.20407,
        trades: 20,
        interval: "1m",
        closed: false,
        timestamp: "2024-03-11T08:38:00.000Z",
      });
    }
    // Once its close time has passed the candle is final, with an id that does not depend on when it was seen.
    const closedA = eventsOf(p.parse(JSON.stringify({ channel: "candle", data: frame }), 1710146400000))[0]!;
    const closedB = eventsOf(p.parse(JSON.stringify({ channel: "candle", data: frame }), 1710146500000))[0]!;
    expect(closedA.payload).toMatchObject({ closed: true });
    expect(closedB.event_id).toBe(closedA.event_id);
  });

  it("combines bbo and activeAssetCtx into tickers (24h base volume, mark/mid price)", () => {
    const p = parser();
    const ctx =
      '{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"funding":"0.0000018952","openInterest":"36585.31848","prevDayPx":"86627.0","dayNtlVlm":"4161029539.6949653625","premium":"-0.0006413454","oraclePx":"84198.0","markPx":"84148.0","midPx":"84143.5","impactPxs":["84143.0","84144.0"],"dayBaseVlm":"49116.08533"}}}';
    expect(p.parse(ctx, RECEIVED)).toMatchObject({ kind: "asset-ctx", event: undefined }); // no bbo yet
    const bbo =
      '{"channel":"bbo","data":{"coin":"BTC","time":1750948919838,"bbo":[{"px":"84143.0","sz":"3.87947","n":17},{"px":"84144.0","sz":"0.5","n":2}]}}';
    const events = eventsOf(p.parse(bbo, RECEIVED));
    expectValid(events);
    expect(events[0]).toMatchObject({
      event_type: "ticker",
      timestamp: "2025-06-26T14:41:59.838Z",
      payload: {
        symbol: "BTC-USD",
        price: 84143.5,
        volume: 49116.08533,
        bid: 84143,
        ask: 84144,
        bid_volume: 3.87947,
        ask_volume: 0.5,
        mark_price: 84148,
        mid_price: 84143.5,
        index_price: 84198,
        open_interest: 36585.31848,
        funding_rate: 0.0000018952,
        volume_quote_24h: 4161029539.6949653625,
        prev_day_price: 86627,
      },
    });
  });

  it("handles the spot context channel, missing dayBaseVlm and one-sided bbo", () => {
    const p = parser();
    const spot = JSON.stringify({
      channel: "activeSpotAssetCtx",
      data: {
        coin: "@2",
        ctx: {
          prevDayPx: "0.000031",
          dayNtlVlm: "24629.86429498",
          markPx: "0.00005299",
          midPx: "0.00005307",
          circulatingSupply: "6879553815.3455801",
          coin: "@2",
        },
      },
    });
    p.parse(spot, RECEIVED);
    // tardis stores a one-sided bbo as a short array, the official type as null: no ticker either way.
    expect(
      p.parse(
        '{"channel":"bbo","data":{"coin":"@2","time":1750948919838,"bbo":[{"px":"0.00005","sz":"3","n":1}]}}',
        RECEIVED,
      ),
    ).toMatchObject({ kind: "bbo", event: undefined });
    expect(
      p.parse(
        '{"channel":"bbo","data":{"coin":"@2","time":1750948919838,"bbo":[null,{"px":"0.00006","sz":"3","n":1}]}}',
        RECEIVED,
      ),
    ).toMatchObject({ kind: "bbo", event: undefined });
    const events = eventsOf(
      p.parse(
        '{"channel":"bbo","data":{"coin":"@2","time":1750948919838,"bbo":[{"px":"0.00005","sz":"3","n":1},{"px":"0.00006","sz":"4","n":1}]}}',
        RECEIVED,
      ),
    );
    expectValid(events);
    expect(events[0]!.payload).toMatchObject({
      symbol: "HFUN-USDC",
      raw_symbol: "@2",
      price: 0.00005307,
      volume: 24629.86429498 / 0.00005299,
    });
  });

  it("recognises acks, pong, error frames, the greeting and channels it does not use", () => {
    const p = parser();
    expect(
      p.parse(
        '{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC","nSigFigs":null,"mantissa":null,"fast":true}}}',
        RECEIVED,
      ),
    ).toEqual({
      kind: "ack",
      method: "subscribe",
      subscription: { type: "l2Book", coin: "BTC", interval: undefined },
    });
    expect(p.parse('{"channel":"pong"}', RECEIVED)).toEqual({ kind: "pong" });
    expect(
      p.parse(
        '{"channel":"error","data":"Already subscribed: {\\"type\\":\\"l2Book\\",\\"coin\\":\\"SOL\\"}"}',
        RECEIVED,
      ),
    ).toEqual({
      kind: "exchange-error",
      message: 'Already subscribed: {"type":"l2Book","coin":"SOL"}',
    });
    expect(p.parse("Websocket connection established.", RECEIVED)).toMatchObject({ kind: "ignored" });
    expect(p.parse('{"channel":"allMids","data":{"mids":{"BTC":"80868.5"}}}', RECEIVED)).toMatchObject({
      kind: "ignored",
    });
  });

  it("reports garbage as invalid without throwing", () => {
    const p = parser();
    expect(p.parse("not json {", RECEIVED)).toMatchObject({
      kind: "invalid",
      reason: "not JSON: not json {",
    });
    expect(p.parse("[1,2]", RECEIVED)).toMatchObject({ kind: "invalid", reason: "frame is not an object" });
    expect(p.parse('{"channel":"mystery","data":1}', RECEIVED)).toMatchObject({
      kind: "invalid",
      channel: "mystery",
    });
    expect(p.parse('{"channel":"trades","data":{}}', RECEIVED)).toMatchObject({
      kind: "invalid",
      channel: "trades",
    });
    expect(
      p.parse(
        '{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"x","sz":"1","n":1}],[]]}}',
        RECEIVED,
      ),
    ).toMatchObject({ kind: "invalid", channel: "l2Book", reason: "bids[0] bad level" });
    expect(
      p.parse(
        '{"channel":"candle","data":{"t":1,"T":2,"s":"BTC","i":"7x","o":"1","c":"1","h":"1","l":"1","v":"1","n":1}}',
        RECEIVED,
      ),
    ).toMatchObject({ kind: "invalid", reason: "bad interval" });
  });

  it("gives every market event a correlation_id: the first event of its frame (itself when alone)", () => {
    const p = parser();
    const frames = [
      '{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"1","sz":"1","time":1,"hash":"0x0","tid":1},{"coin":"BTC","side":"A","px":"1","sz":"2","time":1,"hash":"0x0","tid":2}]}',
      '{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"1","sz":"1","n":1}],[{"px":"2","sz":"1","n":1}]]}}',
      '{"channel":"candle","data":{"t":1,"T":2,"s":"BTC","i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","n":1}}',
      '{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"markPx":"1","midPx":"1.5","dayBaseVlm":"1"}}}',
      '{"channel":"bbo","data":{"coin":"BTC","time":1,"bbo":[{"px":"1","sz":"1","n":1},{"px":"2","sz":"1","n":1}]}}',
    ];
    const [trades, ...alone] = frames.map((frame) => eventsOf(p.parse(frame, RECEIVED)));
    expect(trades!.map((e) => e.correlation_id)).toEqual([trades![0]!.event_id, trades![0]!.event_id]);
    expect(alone.map((events) => events.map((e) => [e.event_type, e.correlation_id]))).toEqual(
      alone.map((events) => events.map((e) => [e.event_type, e.event_id])),
    );
    expect(alone.flat().map((e) => e.event_type)).toEqual(["order_book", "ohlcv", "ticker"]);
  });
});

describe("HyperliquidParser, the first line of validation", () => {
  const TIME = 1730160006192;
  const goodTrade = (tid: number): string =>
    `{"coin":"BTC","side":"B","px":"69997.0","sz":"0.38111","time":${TIME},"tid":${tid}}`;
  const tradesFrame = (...records: string[]): string => `{"channel":"trades","data":[${records.join(",")}]}`;
  const level = (px: string, sz: string): { px: string; sz: string; n: number } => ({ px, sz, n: 1 });
  const book = (bids: unknown[], asks: unknown[]): string =>
    JSON.stringify({ channel: "l2Book", data: { coin: "BTC", time: TIME, levels: [bids, asks] } });

  it("rejects a trade whose px or sz is a JSON number (the exchange sends decimal strings), keeping the others", () => {
    const text = tradesFrame(
      goodTrade(1),
      `{"coin":"BTC","side":"B","px":69997.0,"sz":"0.1","time":${TIME},"tid":2}`,
      `{"coin":"BTC","side":"A","px":"69997.0","sz":0.1,"time":${TIME},"tid":3}`,
      goodTrade(4),
    );
    const result = parser().parse(text, RECEIVED);
    if (result.kind !== "trades") throw new Error(result.kind);
    expect(result.events.map((e) => e.payload.trade_id)).toEqual(["1", "4"]);
    expect(result.problems).toEqual([
      "trades[1]: bad px (a JSON number, not a decimal string)",
      "trades[2]: bad sz (a JSON number, not a decimal string)",
    ]);
    // The live-form reader leaves such a frame to the general path, and both say the same.
    expect(result).toEqual(parser().parseFrame(JSON.parse(text), RECEIVED));
  });

  it("rejects numbers where strings belong in books, bbo, candles and asset contexts", () => {
    const p = parser();
    expect(p.parse(book([{ px: 69996, sz: "1", n: 1 }], [level("69997.0", "1")]), RECEIVED)).toMatchObject({
      kind: "invalid",
      channel: "l2Book",
    });
    expect(
      p.parse(
        JSON.stringify({
          channel: "bbo",
          data: { coin: "BTC", time: TIME, bbo: [{ px: "1", sz: 2, n: 1 }, null] },
        }),
        RECEIVED,
      ),
    ).toMatchObject({ kind: "invalid", channel: "bbo" });
    expect(
      p.parse(
        '{"channel":"candle","data":{"t":1,"T":2,"s":"BTC","i":"1m","o":1,"c":"1","h":"1","l":"1","v":"1","n":1}}',
        RECEIVED,
      ),
    ).toMatchObject({ kind: "invalid", channel: "candle" });
    const ctx = { markPx: "69996.5", midPx: "69996.5", dayNtlVlm: "4161029539.69", dayBaseVlm: "49116.08" };
    expect(
      p.parse(
        JSON.stringify({
          channel: "activeAssetCtx",
          data: { coin: "BTC", ctx: { ...ctx, funding: 0.0001 } },
        }),
        RECEIVED,
      ),
    ).toMatchObject({
      kind: "invalid",
      channel: "activeAssetCtx",
      reason: "ctx.funding is not a decimal string",
    });
    expect(
      p.parse(JSON.stringify({ channel: "activeAssetCtx", data: { coin: "BTC", ctx } }), RECEIVED),
    ).toMatchObject({ kind: "asset-ctx" });
  });

  it.each(["__proto__", "constructor", "prototype"])(
    "rejects a trade with a %s key and keeps the good trades of its frame",
    (key) => {
      const smuggled = `{"coin":"BTC","side":"B","px":"1.5","sz":"2","time":${TIME},"tid":2,"${key}":{"polluted":true}}`;
      const text = tradesFrame(goodTrade(1), smuggled, goodTrade(3));
      const result = parser().parse(text, RECEIVED);
      if (result.kind !== "trades") throw new Error(result.kind);
      expect(result.events.map((e) => e.payload.trade_id)).toEqual(["1", "3"]);
      expect(result.problems).toEqual([`trades[1]: forbidden key "${key}"`]);
      for (const event of result.events) expect(Object.keys(event.payload)).not.toContain(key);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(result).toEqual(parser().parseFrame(JSON.parse(text), RECEIVED));
    },
  );

  it("rejects a forbidden key in a frame, a book level, a candle, a bbo or an asset context", () => {
    const p = parser();
    const cases: [string, string][] = [
      ['{"channel":"pong","__proto__":{"x":1}}', "frame"],
      [book([{ px: "1", sz: "1", n: 1, constructor: 1 }], [level("2", "1")]), "l2Book"],
      [
        '{"channel":"candle","data":{"t":1,"T":2,"s":"BTC","i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","n":1,"__proto__":{}}}',
        "candle",
      ],
      [`{"channel":"bbo","data":{"coin":"BTC","time":${TIME},"bbo":[null,null],"prototype":1}}`, "bbo"],
      [
        '{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"markPx":"1","dayBaseVlm":"1","__proto__":1}}}',
        "ctx",
      ],
    ];
    for (const [text, what] of cases) {
      const result = p.parse(text, RECEIVED);
      expect(result, what).toMatchObject({ kind: "invalid", reason: expect.stringMatching(/forbidden key/) });
    }
  });

  it("rejects a crossed or locked book, unsorted levels and zero sizes; publishes the next good book", () => {
    const p = parser();
    const bad: [string, unknown[], unknown[], string][] = [
      [
        "crossed",
        [level("70000.0", "1")],
        [level("69999.0", "1")],
        "crossed book: best bid 70000 ≥ best ask 69999",
      ],
      [
        "locked",
        [level("70000.0", "1")],
        [level("70000.0", "1")],
        "crossed book: best bid 70000 ≥ best ask 70000",
      ],
      [
        "bids ascending",
        [level("69990.0", "1"), level("69995.0", "1")],
        [level("70000.0", "1")],
        "bids[1] 69995 is not below bids[0] 69990",
      ],
      [
        "asks descending",
        [level("69990.0", "1")],
        [level("70010.0", "1"), level("70005.0", "1")],
        "asks[1] 70005 is not above asks[0] 70010",
      ],
      [
        "repeated price",
        [level("69990.0", "1"), level("69990.0", "2")],
        [level("70000.0", "1")],
        "bids[1] 69990 is not below bids[0] 69990",
      ],
      ["zero size", [level("69990.0", "0")], [level("70000.0", "1")], "bids[0] bad level"],
      ["bad level", [level("x", "1")], [level("70000.0", "1")], "bids[0] bad level"],
    ];
    for (const [what, bids, asks, reason] of bad) {
      expect(p.parse(book(bids, asks), RECEIVED), what).toEqual({
        kind: "invalid",
        channel: "l2Book",
        reason,
      });
    }
    const good = p.parse(
      book([level("69990.0", "1"), level("69980.0", "2")], [level("70000.0", "1")]),
      RECEIVED,
    );
    expect(good).toMatchObject({ kind: "book", event: { payload: { bid: 69990, ask: 70000 } } });
  });
});

describe("HyperliquidParser, trades frames in the live form (read without JSON.parse)", () => {
  const HASH = "0x7ab608dad75f7ce37c2f044516391f02023a00c072529bb51e7eb42d965356ce";
  const USERS = ["0x9aa589355bf745db9784c8ef3c646360f11b58af", "0x8269c0a4f5f1a14582e0aa46856a234893c41970"];
  const live = (trades: Record<string, unknown>[]): string =>
    JSON.stringify({ channel: "trades", data: trades });
  const trade = (tid: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    coin: "BTC",
    side: "A",
    px: "84143.0",
    sz: "0.00036",
    time: 1790232216193,
    hash: HASH,
    tid,
    users: USERS,
    ...extra,
  });

  /** What the general path (`JSON.parse`, then `parseFrame`) makes of `text`. */
  function general(text: string): FrameResult | "not JSON" {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return "not JSON";
    }
    return parser().parseFrame(frame, RECEIVED);
  }

  function expectSameAsGeneral(text: string): FrameResult {
    const result = parser().parse(text, RECEIVED);
    const expected = general(text);
    if (expected === "not JSON") expect(result).toMatchObject({ kind: "invalid", channel: undefined });
    else expect(result).toEqual(expected);
    return result;
  }

  it("makes the same events as the general path, trade ids as written", () => {
    const frames = [
      live([trade(1045359869404765)]),
      live([
        trade(1045359869404765),
        trade(0, { side: "B", px: "84143.5", sz: "12" }),
        trade(9007199254740991),
      ]),
      live([{ ...trade(7), hash: undefined, users: undefined }]), // tardis captures: no hash, no users
      live([trade(1, { users: [] }), trade(2, { coin: "@2" }), trade(3, { px: "0084143.", sz: ".5" })]),
    ];
    // They are read without `JSON.parse` (else these tests would compare the general path with itself).
    const jsonParse = vi.spyOn(JSON, "parse");
    for (const text of frames) parser().parse(text, RECEIVED);
    expect(jsonParse).not.toHaveBeenCalled();
    jsonParse.mockRestore();
    for (const text of frames) {
      const result = expectSameAsGeneral(text);
      if (result.kind !== "trades") throw new Error(result.kind);
      expect(result.events).toHaveLength((JSON.parse(text) as { data: unknown[] }).data.length);
      expect(result.events.map((e) => e.payload.trade_id)).toEqual(
        (JSON.parse(text) as { data: { tid: number }[] }).data.map((t) => String(t.tid)),
      );
      expectValid(result.events);
    }
  });

  it("leaves every other form, and every bad value, to the general path's answer", () => {
    const cases = [
      live([trade(1, { tid: 2 ** 53 })]).replace("9007199254740992", "9007199254740993"), // > 2^53
      live([trade(1, { time: 8.64e15 })]),
      live([trade(1), trade(2, { coin: "NOPE" })]),
      live([trade(1), trade(2, { px: "0.0" })]),
      live([trade(1), trade(2, { sz: "1.2.3" })]),
      live([trade(1, { px: "12345678901234567.5" })]), // > 15 digits: Number() decides
      live([trade(1, { side: "X" })]),
      live([trade(1, { tid: 1.5 })]),
      live([trade(1, { time: 1e3 })]).replace(":1000,", ":1e3,"), // valid JSON, not plain
      live([trade(1, { tid: -1 })]),
      live([trade(1, { px: 84143 })]),
      live([trade(1, { extra: true })]),
      live([trade(1)]).replace('"coin":"BTC"', '"coin":"B\\u0054C"'), // an escape: still BTC
      live([trade(1)]).replace('"tid":1', '"tid":01'),
      live([trade(1)]).replace('"tid":1', '"tid":1,"tid":2'),
      live([trade(1)]).replace(HASH, `0x\u0001${HASH.slice(3)}`), // raw control character
      live([trade(1)]).replace(HASH, `0x\\"${HASH.slice(4)}`),
      `${live([trade(1)])} `,
      `${live([trade(1)])}x`,
      live([trade(1)]).slice(0, -1),
      live([trade(1)]).replace("]}", "],}"),
      live([trade(1)]).replace("]}", '],"data":[]}'),
      live([]),
      '{"channel":"trades","data":[{"coin":"BTC"}',
    ];
    for (const text of cases) expectSameAsGeneral(text);
    // The unsafe tid and the escaped coin, to be sure those cases say what they claim.
    expect(parser().parse(cases[0]!, RECEIVED)).toMatchObject({ problems: ["trades[0]: bad tid"] });
    expect(parser().parse(cases[12]!, RECEIVED)).toMatchObject({
      events: [{ payload: { symbol: "BTC-USD" } }],
    });
  });

  it("agrees with the general path on every one-character edit of live frames", () => {
    const bases = [
      live([trade(1045359869404765), trade(1045359869404766, { coin: "@162", side: "B", px: "1.0001" })]),
      live([{ ...trade(479312521152049), users: undefined }]),
    ];
    // Characters that make or break JSON structure, strings and numbers, and a control character.
    const inserts = [...'"\\,[]{}: 05.-e\u0001Bx'];
    let edits = 0;
    for (const base of bases) {
      for (let i = 0; i <= base.length; i += 1) {
        const variants = [base.slice(0, i) + base.slice(i + 1)];
        for (const c of inserts) {
          variants.push(base.slice(0, i) + c + base.slice(i)); // insert
          variants.push(base.slice(0, i) + c + base.slice(i + 1)); // replace
        }
        for (const text of variants) {
          expectSameAsGeneral(text);
          edits += 1;
        }
      }
    }
    expect(edits).toBeGreaterThan(10_000);
  }, 60_000); // >10,000 parses twice over: CPU-bound, slow on a shared machine, not a speed test

  it("does not throw where the pattern would (a frame with millions of users)", () => {
    const text = live([trade(1)]).replace(JSON.stringify(USERS), `[${'"",'.repeat(5_000_000)}""]`);
    expect(parser().parse(text, RECEIVED)).toMatchObject({
      kind: "trades",
      events: [{ payload: { trade_id: "1" } }],
    });
  });

  it("de-duplicates nothing from a frame it hands to the general path", () => {
    const dedup = new TradeDeduplicator();
    const p = new HyperliquidParser({ markets, dedup });
    // Trade 1 reads as live, trade 2 fails a check after it: the frame goes to the general path.
    const text = live([trade(1), trade(2, { px: "0" })]);
    expect(p.parse(text, RECEIVED)).toMatchObject({
      events: [{ payload: { trade_id: "1" } }],
      problems: ["trades[1]: bad px"],
      duplicates: 0,
    });
    expect(p.parse(live([trade(1), trade(3)]), RECEIVED)).toMatchObject({
      events: [{ payload: { trade_id: "3" } }],
      duplicates: 1,
    });
  });
});
