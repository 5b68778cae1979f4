import {
  type DerivativeTickerEvent,
  EventType,
  type LiquidationEvent,
  type OhlcvEvent,
  type TickerEvent,
  type TradeEvent,
  marketEvent,
} from "@market-scraper/events";
import { HASH_SEED, deterministicEventId, fnv1a32, mixNumber } from "../framework/event-ids.js";
import { IsoFormatter, decimalToNumber } from "../framework/iso-time.js";
import type { BookDelta, BookSnapshot, Level } from "../framework/order-book/types.js";
import type { DedupStream, TradeDeduplicator } from "../framework/trade-deduplicator.js";
import type { BybitCategory, BybitInstrument } from "./bybit-instruments.js";

/**
 * Bybit v5 public WebSocket frames (exchanges.md §5, exchanges-derivatives.md §2) → results: `publicTrade`
 * → `trade`, `tickers` (snapshot, and on linear deltas merged onto it) → `ticker` and, on linear,
 * `derivative_ticker`, `kline` → `ohlcv` (`confirm` → `closed`), `allLiquidation` → `liquidation`,
 * `orderbook.<depth>` → book snapshots and deltas for the order-book engine (levels kept as the exchange's
 * decimal text), and on spot `orderbook.1` → the best bid/ask of the `ticker` (spot tickers carry none).
 * Every field is checked: prices and sizes must be decimal strings, times safe integers; a bad record
 * never becomes an event and the good records of its frame do. Never throws.
 */

export interface ParserInstrument extends BybitInstrument {
  readonly tradeHash: number;
  readonly tickerHash: number;
  readonly derivHash: number;
  readonly liquidationHash: number;
  dedup: DedupStream | undefined;
}

export type BybitFrameResult =
  | { kind: "trades"; topic: string; events: TradeEvent[]; problems: string[]; duplicates: number }
  | {
      kind: "ticker";
      topic: string;
      ticker: TickerEvent | undefined;
      derivative: DerivativeTickerEvent | undefined;
    }
  | { kind: "l1"; topic: string }
  | { kind: "kline"; topic: string; events: OhlcvEvent[]; problems: string[] }
  | { kind: "liquidations"; topic: string; events: LiquidationEvent[]; problems: string[] }
  | {
      kind: "book";
      topic: string;
      rawSymbol: string;
      update: { type: "snapshot"; snapshot: BookSnapshot } | { type: "delta"; delta: BookDelta };
      exchangeTime: number;
    }
  | { kind: "ack"; op: "subscribe" | "unsubscribe"; success: boolean; reqId: string; message: string }
  | { kind: "pong" }
  | { kind: "invalid"; channel: string | undefined; reason: string };

export interface BybitParserOptions {
  /** `bybit-spot` or `bybit-linear`: the `source` of the events. */
  source: string;
  category: BybitCategory;
  instruments: Iterable<BybitInstrument>;
  /** Drops trades already published (by `(symbol, i, T)`); without it every trade becomes an event. */
  dedup?: TradeDeduplicator;
}

/** Bybit kline intervals → ours (`1` → `1m`, `60` → `1h`, `D` → `1d`). */
const INTERVAL_FROM_BYBIT: Readonly<Record<string, string>> = {
  "1": "1m",
  "3": "3m",
  "5": "5m",
  "15": "15m",
  "30": "30m",
  "60": "1h",
  "120": "2h",
  "240": "4h",
  "360": "6h",
  "720": "12h",
  D: "1d",
  W: "1w",
  M: "1M",
};

/** Our interval names → Bybit's (the `kline.<interval>` topics). */
export const BYBIT_INTERVALS: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(INTERVAL_FROM_BYBIT).map(([bybit, ours]) => [ours, bybit]),
);

/** The channel of a topic: what metrics and errors are labelled with (a closed set). */
export const BYBIT_TOPIC_CHANNELS = [
  "publicTrade",
  "tickers",
  "orderbook",
  "kline",
  "allLiquidation",
] as const;
type TopicChannel = (typeof BYBIT_TOPIC_CHANNELS)[number];

const FORBIDDEN_KEYS = ["__proto__", "constructor", "prototype"] as const;
const MAX_TIME = 8.64e15;
const NO_PROBLEMS: string[] = [];
Object.freeze(NO_PROBLEMS);

function forbiddenKey(record: object): string | undefined {
  for (const key of FORBIDDEN_KEYS) if (Object.hasOwn(record, key)) return key;
  return undefined;
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value < MAX_TIME;
}

/** A decimal string → number; NaN for anything else (a JSON number included: Bybit sends strings). */
function num(value: unknown): number {
  if (typeof value !== "string") return NaN;
  const n = decimalToNumber(value);
  return n - n === 0 ? n : NaN;
}

/** Plain unsigned decimal text, as Bybit writes prices and sizes. */
const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** 50 bits of a string (two FNV-1a passes): the exchange id part of a deterministic event id. */
function hash50(text: string): number {
  const a = fnv1a32(text);
  let b = 0x1b873593;
  for (let i = text.length - 1; i >= 0; i -= 1) {
    b ^= text.charCodeAt(i);
    b = Math.imul(b, 0x01000193);
  }
  return (a & 0x3ffff) * 4_294_967_296 + (b >>> 0);
}

/** One side of a book frame: `[price, size]` decimal strings; size `"0"` = delete (deltas only). */
function toLevels(side: unknown, name: string, allowZero: boolean): Level[] | string {
  if (!Array.isArray(side)) return `${name} is not an array`;
  const out = new Array<Level>(side.length);
  for (let i = 0; i < side.length; i += 1) {
    const level = side[i] as unknown;
    if (!Array.isArray(level) || level.length < 2) return `${name}[${i}] is not a [price, size] pair`;
    const price = level[0] as unknown;
    const size = level[1] as unknown;
    if (typeof price !== "string" || !DECIMAL.test(price) || !(decimalToNumber(price) > 0))
      return `${name}[${i}] bad price ${JSON.stringify(price)}`;
    if (typeof size !== "string" || !DECIMAL.test(size))
      return `${name}[${i}] bad size ${JSON.stringify(size)}`;
    if (!allowZero && !(decimalToNumber(size) > 0)) return `${name}[${i}] zero size in a snapshot`;
    out[i] = [price, size];
  }
  return out;
}

interface TickerState {
  /** The merged `tickers` fields (snapshot + deltas), as the exchange wrote them. */
  fields: Record<string, unknown>;
  hasSnapshot: boolean;
  /** Spot: best bid/ask from `orderbook.1`. */
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
}

const DERIVATIVE_FIELDS = [
  "fundingRate",
  "nextFundingTime",
  "markPrice",
  "indexPrice",
  "openInterest",
  "openInterestValue",
];

export class BybitParser {
  readonly source: string;
  readonly category: BybitCategory;
  readonly #instruments = new Map<string, ParserInstrument>();
  readonly #tickers = new Map<string, TickerState>();
  readonly #dedup: TradeDeduplicator | undefined;
  readonly #iso = new IsoFormatter();
  readonly #receivedIso = new IsoFormatter();

  constructor(options: BybitParserOptions) {
    this.source = options.source;
    this.category = options.category;
    this.#dedup = options.dedup;
    for (const instrument of options.instruments) this.addInstrument(instrument);
  }

  addInstrument(instrument: BybitInstrument): void {
    const key = `${this.source}|${instrument.rawSymbol}`;
    this.#instruments.set(instrument.rawSymbol, {
      ...instrument,
      tradeHash: fnv1a32(key),
      tickerHash: fnv1a32(`${key}|ticker`),
      derivHash: fnv1a32(`${key}|derivative_ticker`),
      liquidationHash: fnv1a32(`${key}|liquidation`),
      dedup: undefined,
    });
  }

  instrument(rawSymbol: string): ParserInstrument | undefined {
    return this.#instruments.get(rawSymbol);
  }

  /** Forgets the merged ticker of a symbol (its `tickers` subscription starts again with a snapshot). */
  resetTicker(rawSymbol: string): void {
    this.#tickers.delete(rawSymbol);
  }

  /** Parses one text frame received at `receivedAt` (ms). Never throws. */
  parse(text: string, receivedAt: number): BybitFrameResult {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return { kind: "invalid", channel: undefined, reason: `not JSON: ${preview(text)}` };
    }
    return this.parseFrame(frame, receivedAt);
  }

  /** Maps a decoded frame. Never throws. */
  parseFrame(frame: unknown, receivedAt: number): BybitFrameResult {
    if (typeof frame !== "object" || frame === null || Array.isArray(frame))
      return { kind: "invalid", channel: undefined, reason: "frame is not an object" };
    const f = frame as {
      topic?: unknown;
      type?: unknown;
      ts?: unknown;
      data?: unknown;
      op?: unknown;
      success?: unknown;
      ret_msg?: unknown;
      req_id?: unknown;
    };
    const key = forbiddenKey(frame);
    if (key !== undefined)
      return { kind: "invalid", channel: undefined, reason: `forbidden key ${JSON.stringify(key)}` };
    if (typeof f.topic !== "string") return this.#control(f);
    const topic = f.topic;
    const dot = topic.indexOf(".");
    const channel = topic.slice(0, dot < 0 ? topic.length : dot) as TopicChannel;
    switch (channel) {
      case "publicTrade":
        return this.#trades(topic, f.data, receivedAt);
      case "tickers":
        return this.#ticker(topic, f.type, f.ts, f.data, receivedAt);
      case "orderbook":
        return this.#book(topic, f.type, f.ts, f.data);
      case "kline":
        return this.#klines(topic, f.data, receivedAt);
      case "allLiquidation":
        return this.#liquidations(topic, f.data, receivedAt);
      default:
        return {
          kind: "invalid",
          channel: undefined,
          reason: `unknown topic ${JSON.stringify(preview(topic))}`,
        };
    }
  }

  #control(f: { op?: unknown; success?: unknown; ret_msg?: unknown; req_id?: unknown }): BybitFrameResult {
    const message = typeof f.ret_msg === "string" ? f.ret_msg : "";
    if (f.op === "pong" || (f.op === "ping" && message === "pong")) return { kind: "pong" };
    if ((f.op === "subscribe" || f.op === "unsubscribe") && typeof f.success === "boolean") {
      return {
        kind: "ack",
        op: f.op,
        success: f.success,
        reqId: typeof f.req_id === "string" ? f.req_id : "",
        message,
      };
    }
    return { kind: "invalid", channel: undefined, reason: "frame without a topic, and not an ack or a pong" };
  }

  #instrumentOf(topic: string): ParserInstrument | undefined {
    return this.#instruments.get(topic.slice(topic.lastIndexOf(".") + 1));
  }

  #trades(topic: string, data: unknown, receivedAt: number): BybitFrameResult {
    if (!Array.isArray(data))
      return { kind: "invalid", channel: "publicTrade", reason: "data is not an array" };
    const events: TradeEvent[] = [];
    let problems = NO_PROBLEMS;
    let duplicates = 0;
    let correlationId: string | null = null;
    const receivedIso = this.#receivedIso.format(receivedAt);
    for (let i = 0; i < data.length; i += 1) {
      const t = data[i] as Record<string, unknown> | null;
      const problem = (reason: string): void => {
        (problems === NO_PROBLEMS ? (problems = []) : problems).push(`data[${i}]: ${reason}`);
      };
      if (typeof t !== "object" || t === null || Array.isArray(t)) {
        problem("not an object");
        continue;
      }
      const key = forbiddenKey(t);
      if (key !== undefined) {
        problem(`forbidden key ${JSON.stringify(key)}`);
        continue;
      }
      const instrument = typeof t.s === "string" ? this.#instruments.get(t.s) : undefined;
      if (instrument === undefined) {
        problem(`unknown symbol ${JSON.stringify(t.s)}`);
        continue;
      }
      const price = num(t.p);
      const volume = num(t.v);
      const time = t.T;
      const id = t.i;
      const side = t.S === "Buy" ? "buy" : t.S === "Sell" ? "sell" : undefined;
      if (
        !(price > 0) ||
        !(volume > 0) ||
        !isTime(time) ||
        typeof id !== "string" ||
        id === "" ||
        side === undefined
      ) {
        problem(`bad ${describeBadTrade(t)}`);
        continue;
      }
      if (
        this.#dedup !== undefined &&
        !(instrument.dedup ??= this.#dedup.stream(instrument.rawSymbol)).firstSeen(id, time)
      ) {
        duplicates += 1;
        continue;
      }
      const timestamp = this.#iso.format(time);
      const eventId = deterministicEventId(time, instrument.tradeHash, hash50(id));
      correlationId ??= eventId;
      const payload: TradeEvent["payload"] = {
        symbol: instrument.symbol,
        raw_symbol: instrument.rawSymbol,
        price,
        volume,
        timestamp,
        side,
        trade_id: id,
        received_at: receivedIso,
      };
      if (t.BT === true) payload.block_trade = true;
      events.push(marketEvent(EventType.TRADE, eventId, timestamp, this.source, payload, correlationId));
    }
    return { kind: "trades", topic, events, problems, duplicates };
  }

  #ticker(topic: string, type: unknown, ts: unknown, data: unknown, receivedAt: number): BybitFrameResult {
    const d = data as Record<string, unknown> | null;
    if (typeof d !== "object" || d === null || Array.isArray(d))
      return { kind: "invalid", channel: "tickers", reason: "data is not an object" };
    const key = forbiddenKey(d);
    if (key !== undefined)
      return { kind: "invalid", channel: "tickers", reason: `forbidden key ${JSON.stringify(key)}` };
    const instrument = typeof d.symbol === "string" ? this.#instruments.get(d.symbol) : undefined;
    if (instrument === undefined)
      return { kind: "invalid", channel: "tickers", reason: `unknown symbol ${JSON.stringify(d.symbol)}` };
    if (!isTime(ts)) return { kind: "invalid", channel: "tickers", reason: "bad ts" };
    if (type !== "snapshot" && type !== "delta")
      return { kind: "invalid", channel: "tickers", reason: `bad type ${JSON.stringify(type)}` };
    // Every field we read must be a decimal string when present (`""` = not applicable: dated futures).
    for (const field of TICKER_NUMBERS) {
      const value = d[field];
      if (value !== undefined && value !== "" && Number.isNaN(num(value)))
        return { kind: "invalid", channel: "tickers", reason: `${field} is not a decimal string` };
    }
    const state = this.#tickerState(instrument.rawSymbol);
    if (type === "snapshot") {
      state.fields = { ...d };
      state.hasSnapshot = true;
    } else {
      if (!state.hasSnapshot)
        return {
          kind: "invalid",
          channel: "tickers",
          reason: "delta before any snapshot (nothing to merge it onto)",
        };
      // Absent = unchanged (the doc's rule): merge what the delta carries.
      Object.assign(state.fields, d);
    }
    const ticker = this.#tickerEvent(instrument, state, ts, receivedAt);
    let derivative: DerivativeTickerEvent | undefined;
    if (
      this.category === "linear" &&
      (type === "snapshot" || DERIVATIVE_FIELDS.some((f) => d[f] !== undefined))
    )
      derivative = this.#derivativeEvent(instrument, state, ts, receivedAt);
    return { kind: "ticker", topic, ticker, derivative };
  }

  #tickerState(rawSymbol: string): TickerState {
    let state = this.#tickers.get(rawSymbol);
    if (state === undefined) {
      state = { fields: {}, hasSnapshot: false, bid: NaN, ask: NaN, bidSize: NaN, askSize: NaN };
      this.#tickers.set(rawSymbol, state);
    }
    return state;
  }

  #tickerEvent(
    instrument: ParserInstrument,
    state: TickerState,
    ts: number,
    receivedAt: number,
  ): TickerEvent | undefined {
    const f = state.fields;
    const price = num(f.lastPrice);
    const volume = num(f.volume24h);
    const linear = this.category === "linear";
    const bid = linear ? num(f.bid1Price) : state.bid;
    const ask = linear ? num(f.ask1Price) : state.ask;
    const bidSize = linear ? num(f.bid1Size) : state.bidSize;
    const askSize = linear ? num(f.ask1Size) : state.askSize;
    if (!(price > 0) || !(volume >= 0) || !(bid > 0) || !(ask > 0)) return undefined;
    const timestamp = this.#iso.format(ts);
    const payload: TickerEvent["payload"] = {
      symbol: instrument.symbol,
      raw_symbol: instrument.rawSymbol,
      price,
      volume,
      bid,
      ask,
      timestamp,
      received_at: this.#receivedIso.format(receivedAt),
    };
    if (bidSize >= 0) payload.bid_volume = bidSize;
    if (askSize >= 0) payload.ask_volume = askSize;
    const optional: [keyof TickerEvent["payload"], unknown][] = [
      ["volume_quote_24h", f.turnover24h],
      ["prev_day_price", f.prevPrice24h],
      ["high_24h", f.highPrice24h],
      ["low_24h", f.lowPrice24h],
      ["mark_price", f.markPrice],
      ["index_price", f.indexPrice],
      ["open_interest", f.openInterest],
      ["funding_rate", f.fundingRate],
    ];
    let h = mixNumber(
      mixNumber(mixNumber(mixNumber(mixNumber(HASH_SEED, price), volume), bid), ask),
      bidSize,
    );
    h = mixNumber(h, askSize);
    for (const [name, value] of optional) {
      const n = num(value);
      h = mixNumber(h, n);
      if (n === n) (payload as Record<string, unknown>)[name] = n;
    }
    return marketEvent(
      EventType.TICKER,
      deterministicEventId(ts, instrument.tickerHash, h),
      timestamp,
      this.source,
      payload,
    );
  }

  #derivativeEvent(
    instrument: ParserInstrument,
    state: TickerState,
    ts: number,
    receivedAt: number,
  ): DerivativeTickerEvent | undefined {
    const f = state.fields;
    const timestamp = this.#iso.format(ts);
    const payload: DerivativeTickerEvent["payload"] = {
      symbol: instrument.symbol,
      raw_symbol: instrument.rawSymbol,
      timestamp,
      instrument: instrument.instrument === "future" ? "future" : "perp",
      received_at: this.#receivedIso.format(receivedAt),
    };
    if (instrument.expiry !== undefined) payload.expiry = this.#iso.format(instrument.expiry);
    let h = HASH_SEED;
    let any = false;
    const set = (
      name: "funding_rate" | "mark_price" | "index_price" | "open_interest" | "open_interest_value",
      value: unknown,
    ): void => {
      const n = num(value);
      h = mixNumber(h, n);
      if (n === n) {
        payload[name] = n;
        if (name !== "open_interest_value") any = true;
      }
    };
    set("funding_rate", f.fundingRate);
    set("mark_price", f.markPrice);
    set("index_price", f.indexPrice);
    set("open_interest", f.openInterest);
    set("open_interest_value", f.openInterestValue);
    // `nextFundingTime` is a ms string (`""` on dated futures).
    const next =
      typeof f.nextFundingTime === "string" && /^[1-9][0-9]{0,15}$/.test(f.nextFundingTime)
        ? Number(f.nextFundingTime)
        : NaN;
    h = mixNumber(h, next);
    if (isTime(next)) {
      payload.next_funding_time = this.#iso.format(next);
      any = true;
    }
    if (!any) return undefined;
    return marketEvent(
      EventType.DERIVATIVE_TICKER,
      deterministicEventId(ts, instrument.derivHash, h),
      timestamp,
      this.source,
      payload,
    );
  }

  #book(topic: string, type: unknown, ts: unknown, data: unknown): BybitFrameResult {
    const d = data as { s?: unknown; b?: unknown; a?: unknown; u?: unknown; seq?: unknown } | null;
    if (typeof d !== "object" || d === null || Array.isArray(d))
      return { kind: "invalid", channel: "orderbook", reason: "data is not an object" };
    const key = forbiddenKey(d);
    if (key !== undefined)
      return { kind: "invalid", channel: "orderbook", reason: `forbidden key ${JSON.stringify(key)}` };
    const instrument = typeof d.s === "string" ? this.#instruments.get(d.s) : undefined;
    if (instrument === undefined)
      return { kind: "invalid", channel: "orderbook", reason: `unknown symbol ${JSON.stringify(d.s)}` };
    if (type !== "snapshot" && type !== "delta")
      return { kind: "invalid", channel: "orderbook", reason: `bad type ${JSON.stringify(type)}` };
    const u = d.u;
    if (typeof u !== "number" || !Number.isSafeInteger(u) || u < 0)
      return { kind: "invalid", channel: "orderbook", reason: "bad u" };
    if (!isTime(ts)) return { kind: "invalid", channel: "orderbook", reason: "bad ts" };
    const snapshot = type === "snapshot";
    const bids = toLevels(d.b, "b", !snapshot);
    if (typeof bids === "string") return { kind: "invalid", channel: "orderbook", reason: bids };
    const asks = toLevels(d.a, "a", !snapshot);
    if (typeof asks === "string") return { kind: "invalid", channel: "orderbook", reason: asks };
    // `orderbook.1` on spot feeds the ticker's best bid/ask (snapshots only, every 10 ms).
    if (topic.startsWith("orderbook.1.")) return this.#l1(topic, instrument, bids, asks);
    return {
      kind: "book",
      topic,
      rawSymbol: instrument.rawSymbol,
      update: snapshot
        ? { type: "snapshot", snapshot: { sequence: u, bids, asks } }
        : { type: "delta", delta: { last: u, bids, asks, exchangeTime: ts } },
      exchangeTime: ts,
    };
  }

  #l1(topic: string, instrument: ParserInstrument, bids: Level[], asks: Level[]): BybitFrameResult {
    const state = this.#tickerState(instrument.rawSymbol);
    const bid = bids[0];
    const ask = asks[0];
    state.bid = bid === undefined ? NaN : decimalToNumber(bid[0]);
    state.bidSize = bid === undefined ? NaN : decimalToNumber(bid[1]);
    state.ask = ask === undefined ? NaN : decimalToNumber(ask[0]);
    state.askSize = ask === undefined ? NaN : decimalToNumber(ask[1]);
    return { kind: "l1", topic };
  }

  #klines(topic: string, data: unknown, receivedAt: number): BybitFrameResult {
    if (!Array.isArray(data)) return { kind: "invalid", channel: "kline", reason: "data is not an array" };
    const parts = topic.split(".");
    const interval = INTERVAL_FROM_BYBIT[parts[1] ?? ""];
    const instrument = this.#instrumentOf(topic);
    if (interval === undefined || instrument === undefined || parts.length !== 3)
      return {
        kind: "invalid",
        channel: "kline",
        reason: `unknown kline topic ${JSON.stringify(preview(topic))}`,
      };
    const events: OhlcvEvent[] = [];
    let problems = NO_PROBLEMS;
    for (let i = 0; i < data.length; i += 1) {
      const k = data[i] as Record<string, unknown> | null;
      const event =
        typeof k !== "object" || k === null || Array.isArray(k)
          ? "not an object"
          : forbiddenKey(k) !== undefined
            ? "forbidden key"
            : this.klineEvent(instrument, interval, k, receivedAt);
      if (typeof event === "string")
        (problems === NO_PROBLEMS ? (problems = []) : problems).push(`data[${i}]: ${event}`);
      else events.push(event);
    }
    return { kind: "kline", topic, events, problems };
  }

  /** One kline (WS item) → an `ohlcv` event, or a string naming what is wrong. */
  klineEvent(
    instrument: ParserInstrument,
    interval: string,
    k: Record<string, unknown>,
    receivedAt: number,
  ): OhlcvEvent | string {
    const open = num(k.open);
    const high = num(k.high);
    const low = num(k.low);
    const close = num(k.close);
    const volume = num(k.volume);
    if (!(open > 0 && high > 0 && low > 0 && close > 0 && volume >= 0))
      return "bad open/high/low/close/volume";
    if (!isTime(k.start) || !isTime(k.end)) return "bad start/end";
    if (typeof k.confirm !== "boolean") return "bad confirm";
    if (
      k.interval !== undefined &&
      (typeof k.interval !== "string" || INTERVAL_FROM_BYBIT[k.interval] !== interval)
    )
      return "interval does not match the topic";
    const closed = k.confirm;
    const timestamp = this.#iso.format(k.start);
    const payload: OhlcvEvent["payload"] = {
      symbol: instrument.symbol,
      raw_symbol: instrument.rawSymbol,
      open,
      high,
      low,
      close,
      volume,
      timestamp,
      interval,
      closed,
      received_at: this.#receivedIso.format(receivedAt),
    };
    const turnover = num(k.turnover);
    if (turnover === turnover) payload.volume_quote = turnover;
    const stream = fnv1a32(
      `${this.source}|${instrument.rawSymbol}|${interval}|${closed ? "closed" : "open"}`,
    );
    const eventId = closed
      ? deterministicEventId(k.start, stream, 0)
      : deterministicEventId(
          k.start,
          stream,
          [high, low, close, volume, turnover].reduce(mixNumber, mixNumber(HASH_SEED, open)),
        );
    return marketEvent(EventType.OHLCV, eventId, timestamp, this.source, payload);
  }

  #liquidations(topic: string, data: unknown, receivedAt: number): BybitFrameResult {
    if (!Array.isArray(data))
      return { kind: "invalid", channel: "allLiquidation", reason: "data is not an array" };
    const events: LiquidationEvent[] = [];
    let problems = NO_PROBLEMS;
    let correlationId: string | null = null;
    const receivedIso = this.#receivedIso.format(receivedAt);
    for (let i = 0; i < data.length; i += 1) {
      const l = data[i] as Record<string, unknown> | null;
      const problem = (reason: string): void => {
        (problems === NO_PROBLEMS ? (problems = []) : problems).push(`data[${i}]: ${reason}`);
      };
      if (typeof l !== "object" || l === null || Array.isArray(l) || forbiddenKey(l) !== undefined) {
        problem("not a liquidation object");
        continue;
      }
      const instrument = typeof l.s === "string" ? this.#instruments.get(l.s) : undefined;
      if (instrument === undefined) {
        problem(`unknown symbol ${JSON.stringify(l.s)}`);
        continue;
      }
      const price = num(l.p);
      const volume = num(l.v);
      // `S` names the liquidated *position* (Buy = a long was liquidated): the forced order is the other side.
      const side = l.S === "Buy" ? "sell" : l.S === "Sell" ? "buy" : undefined;
      if (!(price > 0) || !(volume > 0) || !isTime(l.T) || side === undefined) {
        problem("bad T, S, v or p");
        continue;
      }
      const timestamp = this.#iso.format(l.T);
      const eventId = deterministicEventId(
        l.T,
        instrument.liquidationHash,
        hash50(`${String(l.S)}|${String(l.v)}|${String(l.p)}|${i}`),
      );
      correlationId ??= eventId;
      events.push(
        marketEvent(
          EventType.LIQUIDATION,
          eventId,
          timestamp,
          this.source,
          {
            symbol: instrument.symbol,
            raw_symbol: instrument.rawSymbol,
            side,
            raw_side: l.S as string,
            price,
            volume,
            timestamp,
            instrument: instrument.instrument === "future" ? "future" : "perp",
            received_at: receivedIso,
          },
          correlationId,
        ),
      );
    }
    return { kind: "liquidations", topic, events, problems };
  }
}

const TICKER_NUMBERS = [
  "lastPrice",
  "volume24h",
  "turnover24h",
  "prevPrice24h",
  "highPrice24h",
  "lowPrice24h",
  "bid1Price",
  "bid1Size",
  "ask1Price",
  "ask1Size",
  "markPrice",
  "indexPrice",
  "openInterest",
  "openInterestValue",
  "fundingRate",
] as const;

function describeBadTrade(t: Record<string, unknown>): string {
  const bad: string[] = [];
  if (!(num(t.p) > 0)) bad.push(typeof t.p === "number" ? "p (a JSON number, not a decimal string)" : "p");
  if (!(num(t.v) > 0)) bad.push(typeof t.v === "number" ? "v (a JSON number, not a decimal string)" : "v");
  if (!isTime(t.T)) bad.push("T");
  if (typeof t.i !== "string" || t.i === "") bad.push("i");
  if (t.S !== "Buy" && t.S !== "Sell") bad.push("S");
  return bad.join(", ");
}

function preview(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
