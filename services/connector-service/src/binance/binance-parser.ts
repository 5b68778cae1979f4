import {
  EventType,
  type OhlcvEvent,
  type StandardEvent,
  type TickerEvent,
  type TradeEvent,
  marketEvent,
} from "@market-scraper/events";
import { HASH_SEED, deterministicEventId, fnv1a32, mixNumber } from "../framework/event-ids.js";
import { IsoFormatter, decimalToNumber } from "../framework/iso-time.js";
import type { BookDelta, BookSnapshot, Level } from "../framework/order-book/index.js";
import type { DedupStream, TradeDeduplicator } from "../framework/trade-deduplicator.js";
import type { BinanceMarket, BinanceMarketKind } from "./binance-symbols.js";

/**
 * Binance WebSocket frames (combined streams, `{"stream":"<name>","data":{…}}`, exchanges.md §2.3 and
 * exchanges-derivatives.md §1) → `StandardEvent`s, book deltas and snapshots. Each frame is `JSON.parse`d
 * once and every field is checked here: prices and quantities must be decimal strings as Binance sends
 * them (a JSON number there is a schema violation), ids and times safe integers, the payload's `s` the
 * stream's symbol. A bad frame becomes an `invalid` result naming what is wrong (the connector counts
 * and reports it); it never throws. Book levels stay decimal text (the book engine keeps them exact).
 *
 * Two frame kinds are not Binance's own but ours, written into captures so a replay sees what the live
 * connector saw over REST (the tardis-machine convention): `<symbol>@depthSnapshot` (the `/depth`
 * answer) and `<symbol>@openInterest` (the `/fapi/v1/openInterest` answer), both with `"generated":true`.
 */

/** The channels of frames, as counted in metrics (a closed set: garbage never grows the label set). */
export type BinanceStreamChannel =
  | "trade"
  | "aggTrade"
  | "depth"
  | "depthSnapshot"
  | "bookTicker"
  | "ticker"
  | "kline"
  | "markPrice"
  | "openInterest"
  | "forceOrder"
  | "control"
  | "unknown";

export type DerivativeTickerEvent = StandardEvent<"derivative_ticker">;
export type LiquidationEvent = StandardEvent<"liquidation">;

export type BinanceFrameResult =
  | { kind: "trade"; rawSymbol: string; channel: "trade" | "aggTrade"; event: TradeEvent | undefined }
  | { kind: "depth"; rawSymbol: string; delta: BookDelta }
  | { kind: "depth-snapshot"; rawSymbol: string; snapshot: BookSnapshot }
  | { kind: "book-ticker"; rawSymbol: string }
  | { kind: "ticker"; rawSymbol: string; event: TickerEvent | undefined }
  | { kind: "kline"; rawSymbol: string; interval: string; event: OhlcvEvent }
  | { kind: "mark-price"; rawSymbol: string; event: DerivativeTickerEvent }
  | { kind: "open-interest"; rawSymbol: string }
  | { kind: "liquidation"; rawSymbol: string; event: LiquidationEvent }
  | { kind: "ack"; id: unknown }
  | { kind: "exchange-error"; id: unknown; code: unknown; message: string }
  | { kind: "shutdown" }
  | { kind: "invalid"; channel: BinanceStreamChannel; reason: string };

export interface BinanceParserOptions {
  /** `source` of the events: `binance` or `binance-usdm`. */
  source: string;
  kind: BinanceMarketKind;
  markets: Iterable<BinanceMarket>;
  /** Drops trades already published (by symbol, id and time); without it every trade is an event. */
  dedup?: TradeDeduplicator;
}

interface ParserMarket extends BinanceMarket {
  readonly tradeHash: number;
  readonly tickerHash: number;
  readonly derivativeHash: number;
  readonly liquidationHash: number;
  dedup: DedupStream | undefined;
  /** Last L1 from `@bookTicker` (USDⓈ-M `@ticker` frames carry no bid/ask). */
  bid: string | undefined;
  bidQty: string | undefined;
  ask: string | undefined;
  askQty: string | undefined;
  /** Last polled open interest (base asset), from `/fapi/v1/openInterest`. */
  openInterest: number | undefined;
}

type Rec = Record<string, unknown>;

/** A decimal as Binance writes prices and quantities: digits, an optional fraction, no sign or exponent. */
const DECIMAL = /^[0-9]+(\.[0-9]+)?$/;
/** Exchange times are below this: the end of `Date`'s range. */
const MAX_TIME = 8.64e15;
const FORBIDDEN_KEYS = ["__proto__", "constructor", "prototype"] as const;

function isRecord(value: unknown): value is Rec {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function forbiddenKey(record: object): string | undefined {
  for (const key of FORBIDDEN_KEYS) if (Object.hasOwn(record, key)) return key;
  return undefined;
}

/** A decimal string's value, or NaN (a JSON number where Binance sends a string is NaN too). */
function dec(value: unknown): number {
  return typeof value === "string" && DECIMAL.test(value) ? decimalToNumber(value) : NaN;
}

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value < MAX_TIME;
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function badDecimal(name: string, value: unknown): string {
  return typeof value === "number" ? `${name} (a JSON number, not a decimal string)` : name;
}

/**
 * One side of a depth update or snapshot: `[price, qty]` decimal strings (qty `"0…"` = delete on a
 * delta). A string names the first bad level.
 */
function levels(value: unknown, name: string): Level[] | string {
  if (!Array.isArray(value)) return `${name} is not an array`;
  const out: Level[] = new Array<Level>(value.length);
  for (let i = 0; i < value.length; i += 1) {
    const level = value[i] as unknown;
    if (!Array.isArray(level) || level.length < 2) return `${name}[${i}] is not a [price, qty] pair`;
    const price = level[0] as unknown;
    const qty = level[1] as unknown;
    if (typeof price !== "string" || !DECIMAL.test(price) || !(decimalToNumber(price) > 0))
      return `${name}[${i}] ${badDecimal("price", price)}`;
    if (typeof qty !== "string" || !DECIMAL.test(qty)) return `${name}[${i}] ${badDecimal("qty", qty)}`;
    out[i] = [price, qty];
  }
  return out;
}

/** Channel of a stream name's suffix (`btcusdt@depth@100ms` → `depth`), undefined when not one of ours. */
function channelOf(suffix: string): { channel: BinanceStreamChannel; interval?: string } | undefined {
  switch (suffix) {
    case "trade":
      return { channel: "trade" };
    case "aggTrade":
      return { channel: "aggTrade" };
    case "depth":
    case "depth@100ms":
    case "depth@250ms":
    case "depth@500ms":
    case "depth@1000ms":
      return { channel: "depth" };
    case "depthSnapshot":
      return { channel: "depthSnapshot" };
    case "bookTicker":
      return { channel: "bookTicker" };
    case "ticker":
      return { channel: "ticker" };
    case "markPrice":
    case "markPrice@1s":
      return { channel: "markPrice" };
    case "openInterest":
      return { channel: "openInterest" };
    case "forceOrder":
      return { channel: "forceOrder" };
    default:
      if (suffix.startsWith("kline_")) return { channel: "kline", interval: suffix.slice(6) };
      return undefined;
  }
}

/** The stream channel a raw (uncombined) payload's `e` names. */
const EVENT_CHANNELS: Readonly<Record<string, BinanceStreamChannel>> = {
  trade: "trade",
  aggTrade: "aggTrade",
  depthUpdate: "depth",
  bookTicker: "bookTicker",
  "24hrTicker": "ticker",
  kline: "kline",
  markPriceUpdate: "markPrice",
  forceOrder: "forceOrder",
};

export class BinanceParser {
  readonly source: string;
  readonly kind: BinanceMarketKind;
  readonly #byRaw = new Map<string, ParserMarket>();
  readonly #byStreamSymbol = new Map<string, ParserMarket>();
  readonly #dedup: TradeDeduplicator | undefined;
  readonly #iso = new IsoFormatter();
  readonly #receivedIso = new IsoFormatter();

  constructor(options: BinanceParserOptions) {
    this.source = options.source;
    this.kind = options.kind;
    this.#dedup = options.dedup;
    for (const market of options.markets) this.addMarket(market);
  }

  addMarket(market: BinanceMarket): void {
    const raw = market.rawSymbol;
    const m: ParserMarket = {
      ...market,
      tradeHash: fnv1a32(`${this.source}|${raw}|trade`),
      tickerHash: fnv1a32(`${this.source}|${raw}|ticker`),
      derivativeHash: fnv1a32(`${this.source}|${raw}|derivative_ticker`),
      liquidationHash: fnv1a32(`${this.source}|${raw}|liquidation`),
      dedup: undefined,
      bid: undefined,
      bidQty: undefined,
      ask: undefined,
      askQty: undefined,
      openInterest: undefined,
    };
    this.#byRaw.set(raw, m);
    this.#byStreamSymbol.set(raw.toLowerCase(), m);
  }

  market(rawSymbol: string): BinanceMarket | undefined {
    return this.#byRaw.get(rawSymbol);
  }

  /** Parses one text frame received at `receivedAt` (ms). Never throws. */
  parse(text: string, receivedAt: number): BinanceFrameResult {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return { kind: "invalid", channel: "unknown", reason: `not JSON: ${preview(text)}` };
    }
    return this.parseFrame(frame, receivedAt);
  }

  /** Maps an already-decoded frame. Never throws. */
  parseFrame(frame: unknown, receivedAt: number): BinanceFrameResult {
    if (!isRecord(frame)) return { kind: "invalid", channel: "unknown", reason: "frame is not an object" };
    const key = forbiddenKey(frame);
    if (key !== undefined) return { kind: "invalid", channel: "unknown", reason: `forbidden key "${key}"` };
    const stream = frame.stream;
    if (typeof stream === "string") return this.#streamFrame(stream, frame.data, receivedAt);
    if ("result" in frame && "id" in frame) return { kind: "ack", id: frame.id };
    if (isRecord(frame.error)) {
      const { code, msg } = frame.error;
      return { kind: "exchange-error", id: frame.id, code, message: typeof msg === "string" ? msg : "" };
    }
    if ("code" in frame && typeof frame.msg === "string")
      return { kind: "exchange-error", id: frame.id, code: frame.code, message: frame.msg };
    // A raw (uncombined) payload: the channel from `e`, the symbol from `s`.
    const e = frame.e;
    if (e === "serverShutdown") return { kind: "shutdown" };
    const channel = typeof e === "string" ? EVENT_CHANNELS[e] : undefined;
    // A raw forceOrder names its symbol inside the order.
    const symbol = channel === "forceOrder" && isRecord(frame.o) ? frame.o.s : frame.s;
    if (channel === undefined || typeof symbol !== "string")
      return { kind: "invalid", channel: "unknown", reason: "neither a stream frame nor a control frame" };
    const market = this.#byRaw.get(symbol);
    if (market === undefined)
      return { kind: "invalid", channel, reason: `unknown symbol ${JSON.stringify(symbol)}` };
    const interval = channel === "kline" && isRecord(frame.k) ? frame.k.i : undefined;
    return this.#payload(channel, typeof interval === "string" ? interval : "", market, frame, receivedAt);
  }

  #streamFrame(stream: string, data: unknown, receivedAt: number): BinanceFrameResult {
    if (stream === "!serverShutdown") return { kind: "shutdown" };
    const at = stream.indexOf("@");
    const found = at > 0 ? channelOf(stream.slice(at + 1)) : undefined;
    if (found === undefined)
      return {
        kind: "invalid",
        channel: "unknown",
        reason: `unknown stream ${JSON.stringify(preview(stream))}`,
      };
    const { channel } = found;
    const market = this.#byStreamSymbol.get(stream.slice(0, at));
    if (market === undefined)
      return { kind: "invalid", channel, reason: `unknown symbol in stream ${JSON.stringify(stream)}` };
    if (!isRecord(data)) return { kind: "invalid", channel, reason: "data is not an object" };
    const key = forbiddenKey(data);
    if (key !== undefined) return { kind: "invalid", channel, reason: `forbidden key "${key}"` };
    return this.#payload(channel, found.interval ?? "", market, data, receivedAt);
  }

  #payload(
    channel: BinanceStreamChannel,
    interval: string,
    market: ParserMarket,
    d: Rec,
    receivedAt: number,
  ): BinanceFrameResult {
    // Payloads that name their symbol must name the stream's.
    if (d.s !== undefined && d.s !== market.rawSymbol && channel !== "depthSnapshot")
      return { kind: "invalid", channel, reason: `s ${JSON.stringify(d.s)} is not ${market.rawSymbol}` };
    switch (channel) {
      case "trade":
      case "aggTrade":
        return this.#trade(channel, market, d, receivedAt);
      case "depth":
        return this.#depth(market, d);
      case "depthSnapshot":
        return this.#depthSnapshot(market, d);
      case "bookTicker":
        return this.#bookTicker(market, d);
      case "ticker":
        return this.#ticker(market, d, receivedAt);
      case "kline":
        return this.#kline(market, interval, d, receivedAt);
      case "markPrice":
        return this.#markPrice(market, d, receivedAt);
      case "openInterest":
        return this.#openInterest(market, d);
      case "forceOrder":
        return this.#forceOrder(market, d, receivedAt);
      case "control":
      case "unknown":
        return { kind: "invalid", channel, reason: "not a data stream" };
    }
  }

  #trade(
    channel: "trade" | "aggTrade",
    market: ParserMarket,
    d: Rec,
    receivedAt: number,
  ): BinanceFrameResult {
    if (d.e !== channel) return { kind: "invalid", channel, reason: `e is not "${channel}"` };
    const id = channel === "trade" ? d.t : d.a;
    const price = dec(d.p);
    const volume = dec(d.q);
    const time = d.T;
    if (!(price > 0) || !(volume > 0) || !isTime(time) || !isId(id) || typeof d.m !== "boolean") {
      const bad: string[] = [];
      if (!(price > 0)) bad.push(badDecimal("p", d.p));
      if (!(volume > 0)) bad.push(badDecimal("q", d.q));
      if (!isTime(time)) bad.push("T");
      if (!isId(id)) bad.push(channel === "trade" ? "t" : "a");
      if (typeof d.m !== "boolean") bad.push("m");
      return { kind: "invalid", channel, reason: `bad ${bad.join(", ")}` };
    }
    if (
      this.#dedup !== undefined &&
      !(market.dedup ??= this.#dedup.stream(market.rawSymbol)).firstSeen(id, time)
    )
      return { kind: "trade", rawSymbol: market.rawSymbol, channel, event: undefined };
    const timestamp = this.#iso.format(time);
    const eventId = deterministicEventId(time, market.tradeHash, id);
    return {
      kind: "trade",
      rawSymbol: market.rawSymbol,
      channel,
      event: marketEvent(EventType.TRADE, eventId, timestamp, this.source, {
        symbol: market.symbol,
        raw_symbol: market.rawSymbol,
        price,
        volume,
        timestamp,
        // `m`: the buyer is the maker, so the taker sold.
        side: d.m ? "sell" : "buy",
        trade_id: String(id),
        received_at: this.#receivedIso.format(receivedAt),
      }),
    };
  }

  #depth(market: ParserMarket, d: Rec): BinanceFrameResult {
    if (d.e !== "depthUpdate") return { kind: "invalid", channel: "depth", reason: 'e is not "depthUpdate"' };
    const { U, u, pu, E } = d;
    if (!isId(U) || !isId(u) || U > u) return { kind: "invalid", channel: "depth", reason: "bad U/u" };
    if (this.kind === "usdm" && !isId(pu)) return { kind: "invalid", channel: "depth", reason: "bad pu" };
    const bids = levels(d.b, "b");
    if (typeof bids === "string") return { kind: "invalid", channel: "depth", reason: bids };
    const asks = levels(d.a, "a");
    if (typeof asks === "string") return { kind: "invalid", channel: "depth", reason: asks };
    const delta: BookDelta = { first: U, last: u, bids, asks };
    if (isId(pu)) (delta as { prev?: number }).prev = pu;
    if (isTime(E)) (delta as { exchangeTime?: number }).exchangeTime = E;
    return { kind: "depth", rawSymbol: market.rawSymbol, delta };
  }

  #depthSnapshot(market: ParserMarket, d: Rec): BinanceFrameResult {
    const snapshot = parseDepthSnapshot(d);
    if (typeof snapshot === "string") return { kind: "invalid", channel: "depthSnapshot", reason: snapshot };
    return { kind: "depth-snapshot", rawSymbol: market.rawSymbol, snapshot };
  }

  #bookTicker(market: ParserMarket, d: Rec): BinanceFrameResult {
    const bid = dec(d.b);
    const bidQty = dec(d.B);
    const ask = dec(d.a);
    const askQty = dec(d.A);
    if (!(bid >= 0 && bidQty >= 0 && ask >= 0 && askQty >= 0) || !isId(d.u))
      return { kind: "invalid", channel: "bookTicker", reason: "bad u/b/B/a/A" };
    market.bid = d.b as string;
    market.bidQty = d.B as string;
    market.ask = d.a as string;
    market.askQty = d.A as string;
    return { kind: "book-ticker", rawSymbol: market.rawSymbol };
  }

  /**
   * `@ticker` (`24hrTicker`, every second): last price, 24h base and quote volume; the best bid/ask from
   * the frame (spot) or from the last `@bookTicker` (USDⓈ-M, whose `@ticker` has none). No event before
   * a bid and an ask are known.
   */
  #ticker(market: ParserMarket, d: Rec, receivedAt: number): BinanceFrameResult {
    if (d.e !== "24hrTicker") return { kind: "invalid", channel: "ticker", reason: 'e is not "24hrTicker"' };
    const price = dec(d.c);
    const volume = dec(d.v);
    const quoteVolume = dec(d.q);
    const open = dec(d.o);
    const high = dec(d.h);
    const low = dec(d.l);
    if (
      !(price >= 0 && volume >= 0 && quoteVolume >= 0 && open >= 0 && high >= 0 && low >= 0) ||
      !isTime(d.E)
    )
      return { kind: "invalid", channel: "ticker", reason: "bad E/c/v/q/o/h/l" };
    const fromFrame = d.b !== undefined || d.a !== undefined;
    const bidText = fromFrame ? d.b : market.bid;
    const askText = fromFrame ? d.a : market.ask;
    const bid = dec(bidText);
    const ask = dec(askText);
    const bidVolume = dec(fromFrame ? d.B : market.bidQty);
    const askVolume = dec(fromFrame ? d.A : market.askQty);
    if (fromFrame && !(bid >= 0 && ask >= 0 && bidVolume >= 0 && askVolume >= 0))
      return { kind: "invalid", channel: "ticker", reason: "bad b/B/a/A" };
    if (!(bid > 0 && ask > 0)) return { kind: "ticker", rawSymbol: market.rawSymbol, event: undefined };
    const time = d.E;
    const timestamp = this.#iso.format(time);
    const payload: TickerEvent["payload"] = {
      symbol: market.symbol,
      raw_symbol: market.rawSymbol,
      price,
      volume,
      bid,
      ask,
      bid_volume: bidVolume,
      ask_volume: askVolume,
      timestamp,
      volume_quote_24h: quoteVolume,
      received_at: this.#receivedIso.format(receivedAt),
    };
    let h = HASH_SEED;
    for (const value of [price, volume, bid, ask, bidVolume, askVolume, quoteVolume, open, high, low])
      h = mixNumber(h, value);
    const eventId = deterministicEventId(time, market.tickerHash, h);
    return {
      kind: "ticker",
      rawSymbol: market.rawSymbol,
      event: marketEvent(EventType.TICKER, eventId, timestamp, this.source, payload),
    };
  }

  #kline(market: ParserMarket, interval: string, d: Rec, receivedAt: number): BinanceFrameResult {
    const k = d.k;
    if (d.e !== "kline" || !isRecord(k))
      return { kind: "invalid", channel: "kline", reason: "no kline object" };
    const open = dec(k.o);
    const high = dec(k.h);
    const low = dec(k.l);
    const close = dec(k.c);
    const volume = dec(k.v);
    if (!(open >= 0 && high >= 0 && low >= 0 && close >= 0 && volume >= 0))
      return { kind: "invalid", channel: "kline", reason: "bad o/h/l/c/v" };
    if (!isTime(k.t) || !isTime(k.T)) return { kind: "invalid", channel: "kline", reason: "bad t/T" };
    if (
      typeof k.i !== "string" ||
      !/^[1-9][0-9]*[smhdwM]$/.test(k.i) ||
      (interval !== "" && k.i !== interval)
    )
      return { kind: "invalid", channel: "kline", reason: "bad interval" };
    if (typeof k.x !== "boolean") return { kind: "invalid", channel: "kline", reason: "bad x" };
    const trades = isId(k.n) ? k.n : undefined;
    const timestamp = this.#iso.format(k.t);
    const payload: OhlcvEvent["payload"] = {
      symbol: market.symbol,
      raw_symbol: market.rawSymbol,
      open,
      high,
      low,
      close,
      volume,
      timestamp,
      interval: k.i,
      closed: k.x,
      received_at: this.#receivedIso.format(receivedAt),
    };
    if (trades !== undefined) payload.trades = trades;
    // A closed candle is final: one id per bucket (live and backfill agree). An open one: its values.
    const eventId = k.x
      ? deterministicEventId(k.t, fnv1a32(`${this.source}|${market.rawSymbol}|${k.i}|closed`), 0)
      : deterministicEventId(
          k.t,
          fnv1a32(`${this.source}|${market.rawSymbol}|${k.i}|open`),
          [high, low, close, volume, trades ?? -1, k.T].reduce(mixNumber, mixNumber(HASH_SEED, open)),
        );
    return {
      kind: "kline",
      rawSymbol: market.rawSymbol,
      interval: k.i,
      event: marketEvent(EventType.OHLCV, eventId, timestamp, this.source, payload),
    };
  }

  /**
   * `@markPrice@1s` (`markPriceUpdate`) → `derivative_ticker`: mark `p`, index `i`, funding rate `r`
   * (this period's, charged at `T`), next funding time `T` (0 on delivery contracts: left out), and the
   * open interest last polled over REST (the stream has none).
   */
  #markPrice(market: ParserMarket, d: Rec, receivedAt: number): BinanceFrameResult {
    if (d.e !== "markPriceUpdate")
      return { kind: "invalid", channel: "markPrice", reason: 'e is not "markPriceUpdate"' };
    const mark = dec(d.p);
    const index = dec(d.i);
    const funding = signedDec(d.r);
    if (!(mark > 0) || !(index >= 0) || Number.isNaN(funding) || !isTime(d.E) || !isTime(d.T))
      return { kind: "invalid", channel: "markPrice", reason: "bad E/p/i/r/T" };
    const timestamp = this.#iso.format(d.E);
    const payload: DerivativeTickerEvent["payload"] = {
      symbol: market.symbol,
      raw_symbol: market.rawSymbol,
      instrument: "perp",
      timestamp,
      mark_price: mark,
      index_price: index,
      funding_rate: funding,
      received_at: this.#receivedIso.format(receivedAt),
    };
    if (d.T > 0) payload.next_funding_time = new Date(d.T).toISOString();
    if (market.openInterest !== undefined) payload.open_interest = market.openInterest;
    const h = [index, funding, d.T, market.openInterest ?? NaN].reduce(mixNumber, mixNumber(HASH_SEED, mark));
    const eventId = deterministicEventId(d.E, market.derivativeHash, h);
    return {
      kind: "mark-price",
      rawSymbol: market.rawSymbol,
      event: marketEvent(EventType.DERIVATIVE_TICKER, eventId, timestamp, this.source, payload),
    };
  }

  #openInterest(market: ParserMarket, d: Rec): BinanceFrameResult {
    const oi = dec(d.openInterest);
    if (!(oi >= 0) || (d.symbol !== undefined && d.symbol !== market.rawSymbol))
      return { kind: "invalid", channel: "openInterest", reason: "bad symbol/openInterest" };
    market.openInterest = oi;
    return { kind: "open-interest", rawSymbol: market.rawSymbol };
  }

  /**
   * `@forceOrder` → `liquidation`: side of the forced order `o.S` (`SELL`: a long was liquidated), price
   * the average fill price `o.ap` (the order price `o.p` when nothing filled yet), volume the filled
   * quantity `o.z` (else the original `o.q`), time `o.T`. Binance sends at most one per symbol per second.
   */
  #forceOrder(market: ParserMarket, d: Rec, receivedAt: number): BinanceFrameResult {
    const o = d.o;
    if (d.e !== "forceOrder" || !isRecord(o))
      return { kind: "invalid", channel: "forceOrder", reason: "no order object" };
    if (forbiddenKey(o) !== undefined)
      return { kind: "invalid", channel: "forceOrder", reason: "forbidden key" };
    if (o.s !== market.rawSymbol)
      return {
        kind: "invalid",
        channel: "forceOrder",
        reason: `o.s ${JSON.stringify(o.s)} is not ${market.rawSymbol}`,
      };
    const side = o.S === "SELL" ? "sell" : o.S === "BUY" ? "buy" : undefined;
    const avg = dec(o.ap);
    const orderPrice = dec(o.p);
    const filled = dec(o.z);
    const original = dec(o.q);
    const price = avg > 0 ? avg : orderPrice;
    const volume = filled > 0 ? filled : original;
    if (side === undefined || !(price > 0) || !(volume > 0) || !isTime(o.T))
      return { kind: "invalid", channel: "forceOrder", reason: "bad o.S/o.ap/o.p/o.z/o.q/o.T" };
    const timestamp = this.#iso.format(o.T);
    const payload: LiquidationEvent["payload"] = {
      symbol: market.symbol,
      raw_symbol: market.rawSymbol,
      instrument: "perp",
      side,
      price,
      volume,
      timestamp,
      raw_side: o.S as string,
      received_at: this.#receivedIso.format(receivedAt),
    };
    const h = [price, volume, side === "buy" ? 1 : 2].reduce(mixNumber, HASH_SEED);
    const eventId = deterministicEventId(o.T, market.liquidationHash, h);
    return {
      kind: "liquidation",
      rawSymbol: market.rawSymbol,
      event: marketEvent(EventType.LIQUIDATION, eventId, timestamp, this.source, payload),
    };
  }
}

/** A funding rate: a decimal string that may be negative. */
function signedDec(value: unknown): number {
  if (typeof value !== "string") return NaN;
  return value.startsWith("-") ? -dec(value.slice(1)) : dec(value);
}

/**
 * A `/api/v3/depth` or `/fapi/v1/depth` answer (`lastUpdateId`, `bids`, `asks`) as a book snapshot, or a
 * string naming what is wrong.
 */
export function parseDepthSnapshot(answer: unknown): BookSnapshot | string {
  if (!isRecord(answer)) return "depth snapshot is not an object";
  if (!isId(answer.lastUpdateId)) return "bad lastUpdateId";
  const bids = levels(answer.bids, "bids");
  if (typeof bids === "string") return bids;
  const asks = levels(answer.asks, "asks");
  if (typeof asks === "string") return asks;
  return { sequence: answer.lastUpdateId, bids, asks };
}

function preview(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
