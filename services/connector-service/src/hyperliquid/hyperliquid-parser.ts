import {
  EventType,
  type OhlcvEvent,
  type OrderBookEvent,
  type TickerEvent,
  type TradeEvent,
  marketEvent,
} from "@market-scraper/events";
import {
  HASH_SEED,
  ID_HIGH_DIVISOR,
  deterministicEventId,
  fnv1a32,
  idSuffix,
  mixNumber,
  streamIdInfixes,
  timeIdPrefix,
} from "../framework/event-ids.js";
import { IsoFormatter, decimalToNumber, integerToString } from "../framework/iso-time.js";
import type { DedupStream, TradeDeduplicator } from "../framework/trade-deduplicator.js";
import type { HyperliquidMarket } from "./hyperliquid-symbols.js";

/**
 * Hyperliquid WebSocket frames → `StandardEvent`s, by hand: the frame is `JSON.parse`d once and every
 * field is checked here (types, finite numbers, sides), so the events are valid without a second,
 * schema-driven pass (a test checks every event against `StandardEvent.parse`). It is the first line of
 * validation: prices and sizes must be decimal strings, as the exchange sends them (a JSON number is a
 * schema violation), a record with a `__proto__`/`constructor`/`prototype` key is rejected, and so is an
 * `l2Book` with a bad or zero-size level, levels out of order or a crossed book (best bid ≥ best ask).
 * A rejected record never becomes an event; the good records of its frame do. Quirks handled: numbers
 * as strings (candles and asset contexts too), a candle frame whose `data` is one object, a `bbo` side
 * that is `null` or missing, `activeSpotAssetCtx` for spot coins, subscription acks, `error` frames with
 * a string `data`, `pong`, and a plain-text greeting. A `trades` frame in the server's own compact form
 * skips `JSON.parse`: one pattern reads it (see `LIVE_TRADE`), with the same checks and events.
 */

export interface ParserMarket extends HyperliquidMarket {
  /** FNV-1a of `source|coin`: part of the deterministic trade ids. */
  readonly streamHash: number;
  /** The id infixes of `streamHash` (see `streamIdInfixes`). */
  readonly idInfixes: readonly [string, string, string, string];
  /** FNV-1a of `source|coin|order_book` and `source|coin|ticker`: the streams of the content ids. */
  readonly bookHash: number;
  readonly tickerHash: number;
  /** The trades this market has published (when the parser de-duplicates; made at its first trade). */
  dedup: DedupStream | undefined;
}

export interface HlSubscriptionEcho {
  type: string;
  coin?: string | undefined;
  interval?: string | undefined;
}

export type FrameResult =
  | { kind: "trades"; coin: string; events: TradeEvent[]; problems: string[]; duplicates: number }
  | { kind: "book"; coin: string; event: OrderBookEvent | undefined }
  | { kind: "candle"; coin: string; interval: string; openTime: number; event: OhlcvEvent }
  | { kind: "bbo"; coin: string; event: TickerEvent | undefined }
  | { kind: "asset-ctx"; coin: string; event: TickerEvent | undefined }
  | { kind: "ack"; method: "subscribe" | "unsubscribe"; subscription: HlSubscriptionEcho }
  | { kind: "pong" }
  | { kind: "exchange-error"; message: string }
  | { kind: "ignored"; reason: string }
  | { kind: "invalid"; channel: string | undefined; reason: string };

interface TickerState {
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  bboTime: number;
  hasBbo: boolean;
  ctx: CtxValues | undefined;
}

interface CtxValues {
  price: number;
  volume: number;
  markPx: number | undefined;
  midPx: number | undefined;
  oraclePx: number | undefined;
  openInterest: number | undefined;
  funding: number | undefined;
  dayNtlVlm: number | undefined;
  prevDayPx: number | undefined;
}

export interface HyperliquidParserOptions {
  source?: string;
  markets: Iterable<HyperliquidMarket>;
  /** Milliseconds now (for events without an exchange time); default `Date.now`. */
  now?: () => number;
  /**
   * Drop trades already seen (by `(coin, time, tid)`) before building their events; the count is in
   * the result's `duplicates`. Without it every trade of a frame becomes an event.
   */
  dedup?: TradeDeduplicator;
}

const GREETING = "Websocket connection established.";
const ID_LIMIT = 2 ** 50;
const TIME_LIMIT = 2 ** 48;
/** Shared by every result without problems (the common case allocates no array). */
const NO_PROBLEMS: string[] = [];
Object.freeze(NO_PROBLEMS);

/**
 * A `trades` frame as the server writes it: compact, keys in this order, `hash` and `users` optional
 * (older captures lack them). `parse` reads such frames with `LIVE_TRADE` instead of `JSON.parse`,
 * whose object tree (hash, user addresses) cost more than the events made from it.
 */
const LIVE_TRADES_PREFIX = '{"channel":"trades","data":[';
/** A JSON string without escapes or control characters: its text is its value. */
const PLAIN_STRING = String.raw`"[^"\\\x00-\x1f]*"`;
/** A JSON integer without sign, fraction or exponent, of at most 16 digits: its text is `String(value)`. */
const PLAIN_INTEGER = "(0|[1-9][0-9]{0,15})";
/**
 * One trade object of a live frame and the `,` or `]` after it. All it matches is valid JSON that
 * `JSON.parse` would read as the captures: coin (1), side (2), px (3), sz (4), time (5), tid (6), then
 * the separator (7). Anything else (whitespace, other keys or order, escapes, a number with sign,
 * fraction or exponent, a value of another type) does not match, and the frame takes the general path.
 */
const LIVE_TRADE = new RegExp(
  String.raw`\{"coin":"([^"\\\x00-\x1f]*)","side":"([AB])","px":"([0-9.]+)","sz":"([0-9.]+)",` +
    `"time":${PLAIN_INTEGER},(?:"hash":${PLAIN_STRING},)?"tid":${PLAIN_INTEGER}` +
    String.raw`(?:,"users":\[(?:${PLAIN_STRING}(?:,${PLAIN_STRING})*)?\])?\}([,\]])`,
  "y",
);

/**
 * A JSON string holding a finite number, as Hyperliquid sends prices, sizes, candles and contexts; NaN
 * for anything else, a JSON number included (the exchange never sends one there: a schema violation).
 */
function num(value: unknown): number {
  if (typeof value !== "string") return NaN;
  const n = decimalToNumber(value);
  return n - n === 0 ? n : NaN; // finite
}

/** Keys no record may have: JSON.parse makes them own properties, and they have no business in data. */
const FORBIDDEN_KEYS = ["__proto__", "constructor", "prototype"] as const;

/** The first forbidden key `record` has as its own, or undefined. */
function forbiddenKey(record: object): string | undefined {
  for (const key of FORBIDDEN_KEYS) if (Object.hasOwn(record, key)) return key;
  return undefined;
}

function forbidden(key: string): string {
  return `forbidden key ${JSON.stringify(key)}`;
}

/** The context fields the ticker reads. */
const CTX_NUMBERS = [
  "markPx",
  "midPx",
  "oraclePx",
  "openInterest",
  "funding",
  "dayNtlVlm",
  "dayBaseVlm",
  "prevDayPx",
] as const;

function optNum(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = num(value);
  return n === n ? n : undefined;
}

/** Exchange times are below this: the end of `Date`'s range. */
const MAX_TIME = 8.64e15;
const MAX_TID = Number.MAX_SAFE_INTEGER;

function isTime(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value < MAX_TIME;
}

/** The value of a run of at most 16 decimal digits: exact up to 2^53 - 1, at least 2^53 above. */
function integerOf(digits: string): number {
  let n = 0;
  for (let i = 0; i < digits.length; i += 1) n = n * 10 + (digits.charCodeAt(i) - 48);
  return n;
}

/** The trades of one frame that passed the checks, waiting for de-duplication (one per parser, reused). */
class TradeBatch {
  length = 0;
  readonly markets: ParserMarket[] = [];
  readonly prices: number[] = [];
  readonly volumes: number[] = [];
  readonly times: number[] = [];
  readonly tids: number[] = [];
  readonly sides: ("buy" | "sell")[] = [];
  /** The tid as the frame wrote it, when known (else it is formatted). */
  readonly tradeIds: (string | undefined)[] = [];

  add(
    market: ParserMarket,
    price: number,
    volume: number,
    time: number,
    tid: number,
    side: "buy" | "sell",
    tradeId: string | undefined,
  ): void {
    const i = this.length;
    this.markets[i] = market;
    this.prices[i] = price;
    this.volumes[i] = volume;
    this.times[i] = time;
    this.tids[i] = tid;
    this.sides[i] = side;
    this.tradeIds[i] = tradeId;
    this.length = i + 1;
  }
}

export class HyperliquidParser {
  readonly source: string;
  readonly #markets = new Map<string, ParserMarket>();
  readonly #tickers = new Map<string, TickerState>();
  readonly #now: () => number;
  readonly #dedup: TradeDeduplicator | undefined;
  readonly #batch = new TradeBatch();
  // One formatter per clock: exchange times and receive times are seconds apart, and a shared one would
  // rebuild its per-second prefix on every call.
  readonly #isoFormatter = new IsoFormatter();
  readonly #receivedFormatter = new IsoFormatter();
  // Consecutive events share a timestamp (one block): format each ms once.
  #isoMs = -1;
  #iso = "";
  #recvMs = -1;
  #recvIso = "";
  #idMs = -1;
  #idMarket: ParserMarket | undefined;
  #idPrefixes: (string | undefined)[] = [undefined, undefined, undefined, undefined];

  constructor(options: HyperliquidParserOptions) {
    this.source = options.source ?? "hyperliquid";
    this.#now = options.now ?? Date.now;
    this.#dedup = options.dedup;
    for (const market of options.markets) this.addMarket(market);
  }

  addMarket(market: HyperliquidMarket): void {
    const streamHash = fnv1a32(`${this.source}|${market.coin}`);
    this.#markets.set(market.coin, {
      ...market,
      streamHash,
      idInfixes: streamIdInfixes(streamHash),
      bookHash: fnv1a32(`${this.source}|${market.coin}|order_book`),
      tickerHash: fnv1a32(`${this.source}|${market.coin}|ticker`),
      dedup: undefined,
    });
  }

  market(coin: string): ParserMarket | undefined {
    return this.#markets.get(coin);
  }

  #isoOf(ms: number): string {
    if (ms !== this.#isoMs) {
      this.#isoMs = ms;
      this.#iso = this.#isoFormatter.format(ms);
    }
    return this.#iso;
  }

  #receivedIso(ms: number): string {
    if (ms !== this.#recvMs) {
      this.#recvMs = ms;
      this.#recvIso = this.#receivedFormatter.format(ms);
    }
    return this.#recvIso;
  }

  /** Parses one text frame received at `receivedAt` (ms). Never throws. */
  parse(text: string, receivedAt: number): FrameResult {
    if (text.startsWith(LIVE_TRADES_PREFIX)) {
      let coin: string | undefined;
      try {
        coin = this.#readLiveTrades(text);
      } catch {
        // The pattern's backtracking stack overflows on millions of `users`: `JSON.parse` copes.
        coin = undefined;
      }
      if (coin !== undefined) return this.#tradeEvents(coin, NO_PROBLEMS, receivedAt);
    }
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      if (text.trim() === GREETING) return { kind: "ignored", reason: "greeting" };
      return { kind: "invalid", channel: undefined, reason: `not JSON: ${preview(text)}` };
    }
    return this.parseFrame(frame, receivedAt);
  }

  /** Maps an already-decoded frame. Never throws. */
  parseFrame(frame: unknown, receivedAt: number): FrameResult {
    if (typeof frame !== "object" || frame === null || Array.isArray(frame)) {
      return { kind: "invalid", channel: undefined, reason: "frame is not an object" };
    }
    const { channel, data } = frame as { channel?: unknown; data?: unknown };
    const key = forbiddenKey(frame);
    if (key !== undefined)
      return {
        kind: "invalid",
        channel: typeof channel === "string" ? channel : undefined,
        reason: forbidden(key),
      };
    switch (channel) {
      case "trades":
        return this.#trades(data, receivedAt);
      case "l2Book":
        return this.#book(data, receivedAt);
      case "candle":
        return this.#candle(data, receivedAt);
      case "bbo":
        return this.#bbo(data, receivedAt);
      case "activeAssetCtx":
      case "activeSpotAssetCtx":
        return this.#assetCtx(channel, data, receivedAt);
      case "subscriptionResponse":
        return this.#ack(data);
      case "pong":
        return { kind: "pong" };
      case "error":
        return typeof data === "string"
          ? { kind: "exchange-error", message: data }
          : { kind: "invalid", channel, reason: "error frame without a string data" };
      case "allMids":
      case "post":
        return { kind: "ignored", reason: `channel ${channel} is not used` };
      default:
        return {
          kind: "invalid",
          channel: typeof channel === "string" ? channel : undefined,
          reason: typeof channel === "string" ? `unknown channel '${channel}'` : "frame without a channel",
        };
    }
  }

  #trades(data: unknown, receivedAt: number): FrameResult {
    if (!Array.isArray(data))
      return { kind: "invalid", channel: "trades", reason: "trades data is not an array" };
    const batch = this.#batch;
    batch.length = 0;
    let problems = NO_PROBLEMS;
    let coinOfFrame = "";
    let lastCoin: unknown = undefined;
    let lastMarket: ParserMarket | undefined;
    for (let i = 0; i < data.length; i += 1) {
      const t = data[i] as
        | { coin?: unknown; side?: unknown; px?: unknown; sz?: unknown; time?: unknown; tid?: unknown }
        | null
        | undefined;
      if (typeof t !== "object" || t === null) {
        (problems === NO_PROBLEMS ? (problems = []) : problems).push(`trades[${i}] is not an object`);
        continue;
      }
      const key = forbiddenKey(t);
      if (key !== undefined) {
        (problems === NO_PROBLEMS ? (problems = []) : problems).push(`trades[${i}]: ${forbidden(key)}`);
        continue;
      }
      const coin = t.coin;
      // The trades of a frame share their coin: look it up once.
      const market =
        coin === lastCoin && lastMarket !== undefined
          ? lastMarket
          : typeof coin === "string"
            ? this.#markets.get(coin)
            : undefined;
      if (market === undefined) {
        (problems === NO_PROBLEMS ? (problems = []) : problems).push(
          `trades[${i}]: unknown coin ${JSON.stringify(coin)}`,
        );
        continue;
      }
      coinOfFrame = market.coin;
      lastCoin = coin;
      lastMarket = market;
      const price = num(t.px);
      const volume = num(t.sz);
      const time = t.time;
      const tid = t.tid;
      const side = t.side === "B" ? "buy" : t.side === "A" ? "sell" : undefined;
      if (
        !(price > 0) ||
        !(volume > 0) ||
        !isTime(time) ||
        !Number.isSafeInteger(tid) ||
        (tid as number) < 0 ||
        side === undefined
      ) {
        (problems === NO_PROBLEMS ? (problems = []) : problems).push(
          `trades[${i}]: bad ${describeBadTrade(t)}`,
        );
        continue;
      }
      batch.add(market, price, volume, time, tid as number, side, undefined);
    }
    return this.#tradeEvents(coinOfFrame, problems, receivedAt);
  }

  /**
   * Reads a frame of the `LIVE_TRADE` form into `#batch` and returns its coin; `undefined` when the
   * text is not of that form or one of its trades fails a check (the general path then reads the frame
   * and names the problems). The checks are those of `#trades`, on the same values: the captures are
   * the JSON values.
   */
  #readLiveTrades(text: string): string | undefined {
    const pattern = LIVE_TRADE;
    pattern.lastIndex = LIVE_TRADES_PREFIX.length;
    const batch = this.#batch;
    batch.length = 0;
    let coin: string | undefined;
    let market: ParserMarket | undefined;
    for (;;) {
      const m = pattern.exec(text);
      if (m === null) return undefined;
      if (m[1] !== coin) {
        coin = m[1]!;
        market = this.#markets.get(coin);
      }
      const price = num(m[3]);
      const volume = num(m[4]);
      const time = integerOf(m[5]!);
      const tid = integerOf(m[6]!);
      // `integerOf` is exact up to 2^53 - 1 and at least 2^53 above: these bounds reject exactly what
      // `isTime` and `Number.isSafeInteger` reject.
      if (market === undefined || !(price > 0) || !(volume > 0) || !(time < MAX_TIME) || !(tid <= MAX_TID))
        return undefined;
      // A safe integer written without leading zeros: the text is `String(tid)`.
      batch.add(market, price, volume, time, tid, m[2] === "B" ? "buy" : "sell", m[6]);
      if (m[7] === "]") break;
    }
    // `]` closed the array: `}` must close the frame, and nothing follow.
    if (pattern.lastIndex !== text.length - 1 || text.charCodeAt(pattern.lastIndex) !== 0x7d)
      return undefined;
    return market.coin;
  }

  /**
   * The events of the checked trades in `#batch`, less those already seen. Only now is anything
   * de-duplicated: a frame is read whole first, so one that falls back to the general path has
   * changed nothing.
   */
  #tradeEvents(coin: string, problems: string[], receivedAt: number): FrameResult {
    const batch = this.#batch;
    const events: TradeEvent[] = [];
    // The trades of one frame (one block, often one taker order) share a correlation id: the first one's id.
    let correlationId: string | null = null;
    const receivedIso = this.#receivedIso(receivedAt);
    let duplicates = 0;
    for (let i = 0; i < batch.length; i += 1) {
      const market = batch.markets[i]!;
      const time = batch.times[i]!;
      const tid = batch.tids[i]!;
      if (
        this.#dedup !== undefined &&
        !(market.dedup ??= this.#dedup.stream(market.coin)).firstSeen(tid, time)
      ) {
        duplicates += 1;
        continue;
      }
      const timestamp = this.#isoOf(time);
      const eventId = this.#tradeId(market, time, tid);
      correlationId ??= eventId;
      events.push(
        marketEvent(
          EventType.TRADE,
          eventId,
          timestamp,
          this.source,
          {
            symbol: market.symbol,
            raw_symbol: market.coin,
            price: batch.prices[i]!,
            volume: batch.volumes[i]!,
            timestamp,
            side: batch.sides[i]!,
            trade_id: batch.tradeIds[i] ?? integerToString(tid),
            received_at: receivedIso,
          },
          correlationId,
        ),
      );
    }
    return { kind: "trades", coin, events, problems, duplicates };
  }

  /**
   * `deterministicEventId(time, market.streamHash, tid)`: everything but the last 12 digits is shared
   * by the trades of a frame (same time and coin), so it is built once per frame.
   */
  #tradeId(market: ParserMarket, time: number, tid: number): string {
    // `time` and `tid` are known to be safe non-negative integers here: only the ranges are left to check.
    if (tid >= ID_LIMIT || time >= TIME_LIMIT) return deterministicEventId(time, market.streamHash, tid);
    if (time !== this.#idMs || market !== this.#idMarket) {
      this.#idMs = time;
      this.#idMarket = market;
      this.#idPrefixes = [undefined, undefined, undefined, undefined];
    }
    const high = Math.floor(tid / ID_HIGH_DIVISOR);
    let prefix = this.#idPrefixes[high];
    if (prefix === undefined) {
      prefix = timeIdPrefix(time) + market.idInfixes[high]!;
      this.#idPrefixes[high] = prefix;
    }
    return prefix + idSuffix(tid);
  }

  #book(data: unknown, receivedAt: number): FrameResult {
    const d = data as { coin?: unknown; time?: unknown; levels?: unknown } | null | undefined;
    if (typeof d !== "object" || d === null)
      return { kind: "invalid", channel: "l2Book", reason: "no data object" };
    const key = forbiddenKey(d);
    if (key !== undefined) return { kind: "invalid", channel: "l2Book", reason: forbidden(key) };
    const market = typeof d.coin === "string" ? this.#markets.get(d.coin) : undefined;
    if (market === undefined)
      return { kind: "invalid", channel: "l2Book", reason: `unknown coin ${JSON.stringify(d.coin)}` };
    const levels = d.levels;
    if (!isTime(d.time) || !Array.isArray(levels) || levels.length !== 2) {
      return { kind: "invalid", channel: "l2Book", reason: "bad time or levels" };
    }
    // A book is one snapshot: one bad level makes it all untrustworthy, so it is rejected whole (the
    // previous book stands until the next good one).
    const bids = toLevels(levels[0], "bids", -1);
    if (typeof bids === "string") return { kind: "invalid", channel: "l2Book", reason: bids };
    const asks = toLevels(levels[1], "asks", 1);
    if (typeof asks === "string") return { kind: "invalid", channel: "l2Book", reason: asks };
    const bestBid = bids[0];
    const bestAsk = asks[0];
    // An empty side (a delisted coin streams `[[],[]]`) has no top of book to report.
    if (bestBid === undefined || bestAsk === undefined)
      return { kind: "book", coin: market.coin, event: undefined };
    if (bestBid[0] >= bestAsk[0]) {
      const reason = `crossed book: best bid ${bestBid[0]} ≥ best ask ${bestAsk[0]}`;
      return { kind: "invalid", channel: "l2Book", reason };
    }
    const timestamp = this.#isoOf(d.time);
    // The id: exchange time and the levels (the same snapshot sent again is the same event).
    const eventId = deterministicEventId(
      d.time,
      market.bookHash,
      hashLevels(hashLevels(HASH_SEED, bids), asks),
    );
    return {
      kind: "book",
      coin: market.coin,
      event: marketEvent(EventType.ORDER_BOOK, eventId, timestamp, this.source, {
        symbol: market.symbol,
        raw_symbol: market.coin,
        bid: bestBid[0],
        ask: bestAsk[0],
        bid_volume: bestBid[1],
        ask_volume: bestAsk[1],
        timestamp,
        bids,
        asks,
        received_at: this.#receivedIso(receivedAt),
      }),
    };
  }

  #candle(data: unknown, receivedAt: number): FrameResult {
    // The docs say `Candle[]`; the wire sends one object. Accept both.
    const c = (Array.isArray(data) ? data[data.length - 1] : data) as
      Record<string, unknown> | null | undefined;
    if (typeof c !== "object" || c === null)
      return { kind: "invalid", channel: "candle", reason: "no candle object" };
    const key = forbiddenKey(c);
    if (key !== undefined) return { kind: "invalid", channel: "candle", reason: forbidden(key) };
    const market = typeof c.s === "string" ? this.#markets.get(c.s) : undefined;
    if (market === undefined)
      return { kind: "invalid", channel: "candle", reason: `unknown coin ${JSON.stringify(c.s)}` };
    const event = this.candleEvent(market, c, receivedAt);
    if (typeof event === "string") return { kind: "invalid", channel: "candle", reason: event };
    return { kind: "candle", coin: market.coin, interval: c.i as string, openTime: c.t as number, event };
  }

  /**
   * One candle (WS frame or `candleSnapshot` item) → an `ohlcv` event, or a string naming what is wrong.
   * A candle whose close time has passed is `closed` and gets a deterministic id (so a backfilled
   * candle and the same one seen live are one record downstream).
   */
  candleEvent(market: ParserMarket, c: Record<string, unknown>, receivedAt: number): OhlcvEvent | string {
    const open = num(c.o);
    const high = num(c.h);
    const low = num(c.l);
    const close = num(c.c);
    const volume = num(c.v);
    const interval = c.i;
    if (!(open === open && high === high && low === low && close === close && volume >= 0))
      return "bad o/h/l/c/v";
    if (!isTime(c.t) || !isTime(c.T)) return "bad t/T";
    if (typeof interval !== "string" || !/^[1-9][0-9]*[smhdwM]$/.test(interval)) return "bad interval";
    const trades = typeof c.n === "number" && Number.isSafeInteger(c.n) && c.n >= 0 ? c.n : undefined;
    const closed = c.T < receivedAt;
    const timestamp = this.#isoFormatter.format(c.t);
    const payload: OhlcvEvent["payload"] = {
      symbol: market.symbol,
      raw_symbol: market.coin,
      open,
      high,
      low,
      close,
      volume,
      timestamp,
      interval,
      closed,
      received_at: this.#receivedIso(receivedAt),
    };
    if (trades !== undefined) payload.trades = trades;
    // An open candle's id: its open time and its values so far (each update is its own event).
    const eventId = closed
      ? deterministicEventId(c.t, fnv1a32(`${this.source}|${market.coin}|${interval}|closed`), 0)
      : deterministicEventId(
          c.t,
          fnv1a32(`${this.source}|${market.coin}|${interval}|open`),
          [high, low, close, volume, trades ?? -1, c.T].reduce(mixNumber, mixNumber(HASH_SEED, open)),
        );
    return marketEvent(EventType.OHLCV, eventId, timestamp, this.source, payload);
  }

  #tickerState(coin: string): TickerState {
    let state = this.#tickers.get(coin);
    if (state === undefined) {
      state = { bid: NaN, ask: NaN, bidSize: NaN, askSize: NaN, bboTime: 0, hasBbo: false, ctx: undefined };
      this.#tickers.set(coin, state);
    }
    return state;
  }

  #bbo(data: unknown, receivedAt: number): FrameResult {
    const d = data as { coin?: unknown; time?: unknown; bbo?: unknown } | null | undefined;
    if (typeof d !== "object" || d === null)
      return { kind: "invalid", channel: "bbo", reason: "no data object" };
    const key = forbiddenKey(d);
    if (key !== undefined) return { kind: "invalid", channel: "bbo", reason: forbidden(key) };
    const market = typeof d.coin === "string" ? this.#markets.get(d.coin) : undefined;
    if (market === undefined)
      return { kind: "invalid", channel: "bbo", reason: `unknown coin ${JSON.stringify(d.coin)}` };
    if (!isTime(d.time) || !Array.isArray(d.bbo))
      return { kind: "invalid", channel: "bbo", reason: "bad time or bbo" };
    const state = this.#tickerState(market.coin);
    const bid = d.bbo[0] as { px?: unknown; sz?: unknown } | null | undefined;
    const ask = d.bbo[1] as { px?: unknown; sz?: unknown } | null | undefined;
    const sideKey =
      (typeof bid === "object" && bid !== null ? forbiddenKey(bid) : undefined) ??
      (typeof ask === "object" && ask !== null ? forbiddenKey(ask) : undefined);
    if (sideKey !== undefined) return { kind: "invalid", channel: "bbo", reason: forbidden(sideKey) };
    // A side that is null or missing: the book is empty on that side; keep no stale value for it.
    state.bid = bid ? num(bid.px) : NaN;
    state.bidSize = bid ? num(bid.sz) : NaN;
    state.ask = ask ? num(ask.px) : NaN;
    state.askSize = ask ? num(ask.sz) : NaN;
    if ((bid && !(state.bid > 0 && state.bidSize >= 0)) || (ask && !(state.ask > 0 && state.askSize >= 0))) {
      state.hasBbo = false;
      return { kind: "invalid", channel: "bbo", reason: "bad px/sz" };
    }
    state.hasBbo = true;
    state.bboTime = d.time;
    return { kind: "bbo", coin: market.coin, event: this.#ticker(market, state, receivedAt) };
  }

  #assetCtx(channel: string, data: unknown, receivedAt: number): FrameResult {
    const d = data as { coin?: unknown; ctx?: unknown } | null | undefined;
    if (typeof d !== "object" || d === null) return { kind: "invalid", channel, reason: "no data object" };
    const market = typeof d.coin === "string" ? this.#markets.get(d.coin) : undefined;
    if (market === undefined)
      return { kind: "invalid", channel, reason: `unknown coin ${JSON.stringify(d.coin)}` };
    const ctx = d.ctx as Record<string, unknown> | null | undefined;
    if (typeof ctx !== "object" || ctx === null) return { kind: "invalid", channel, reason: "no ctx object" };
    const key = forbiddenKey(d) ?? forbiddenKey(ctx);
    if (key !== undefined) return { kind: "invalid", channel, reason: forbidden(key) };
    // Every number the ticker takes must be a decimal string when present (null: not known).
    for (const field of CTX_NUMBERS) {
      const value = ctx[field];
      if (value !== undefined && value !== null && Number.isNaN(num(value)))
        return { kind: "invalid", channel, reason: `ctx.${field} is not a decimal string` };
    }
    const markPx = optNum(ctx.markPx);
    const midPx = optNum(ctx.midPx);
    const dayNtlVlm = optNum(ctx.dayNtlVlm);
    const dayBaseVlm = optNum(ctx.dayBaseVlm);
    const price = midPx ?? markPx;
    // 24h base volume: `dayBaseVlm` when sent, else notional / mark price (older frames lack it).
    const volume =
      dayBaseVlm ??
      (dayNtlVlm !== undefined && markPx !== undefined && markPx > 0 ? dayNtlVlm / markPx : undefined);
    if (price === undefined || volume === undefined)
      return { kind: "invalid", channel, reason: "no mark/mid price or volume" };
    const state = this.#tickerState(market.coin);
    state.ctx = {
      price,
      volume,
      markPx,
      midPx,
      oraclePx: optNum(ctx.oraclePx),
      openInterest: optNum(ctx.openInterest),
      funding: optNum(ctx.funding),
      dayNtlVlm,
      prevDayPx: optNum(ctx.prevDayPx),
    };
    return { kind: "asset-ctx", coin: market.coin, event: this.#ticker(market, state, receivedAt) };
  }

  /** A ticker once both halves are known: best bid/ask from `bbo`, price and 24h volume from the ctx. */
  #ticker(market: ParserMarket, state: TickerState, receivedAt: number): TickerEvent | undefined {
    const ctx = state.ctx;
    if (ctx === undefined || !state.hasBbo || !(state.bid > 0) || !(state.ask > 0)) return undefined;
    const time = Math.max(state.bboTime, 0) || receivedAt;
    const timestamp = this.#isoOf(time);
    const payload: TickerEvent["payload"] = {
      symbol: market.symbol,
      raw_symbol: market.coin,
      price: ctx.price,
      volume: ctx.volume,
      bid: state.bid,
      ask: state.ask,
      bid_volume: state.bidSize,
      ask_volume: state.askSize,
      timestamp,
      received_at: this.#receivedIso(receivedAt),
    };
    if (ctx.markPx !== undefined) payload.mark_price = ctx.markPx;
    if (ctx.midPx !== undefined) payload.mid_price = ctx.midPx;
    if (ctx.oraclePx !== undefined) payload.index_price = ctx.oraclePx;
    if (ctx.openInterest !== undefined) payload.open_interest = ctx.openInterest;
    if (ctx.funding !== undefined) payload.funding_rate = ctx.funding;
    if (ctx.dayNtlVlm !== undefined) payload.volume_quote_24h = ctx.dayNtlVlm;
    if (ctx.prevDayPx !== undefined) payload.prev_day_price = ctx.prevDayPx;
    // The id: the time of its best bid/offer and every value it carries (both halves of the ticker).
    let h = mixNumber(
      mixNumber(mixNumber(mixNumber(HASH_SEED, state.bid), state.ask), state.bidSize),
      state.askSize,
    );
    h = mixNumber(
      mixNumber(mixNumber(mixNumber(h, ctx.price), ctx.volume), ctx.markPx ?? NaN),
      ctx.midPx ?? NaN,
    );
    h = mixNumber(mixNumber(mixNumber(h, ctx.oraclePx ?? NaN), ctx.openInterest ?? NaN), ctx.funding ?? NaN);
    h = mixNumber(mixNumber(h, ctx.dayNtlVlm ?? NaN), ctx.prevDayPx ?? NaN);
    const eventId = deterministicEventId(time, market.tickerHash, h);
    return marketEvent(EventType.TICKER, eventId, timestamp, this.source, payload);
  }

  #ack(data: unknown): FrameResult {
    const d = data as { method?: unknown; subscription?: unknown } | null | undefined;
    const sub = d?.subscription as { type?: unknown; coin?: unknown; interval?: unknown } | null | undefined;
    if (
      (d?.method !== "subscribe" && d?.method !== "unsubscribe") ||
      typeof sub !== "object" ||
      sub === null ||
      typeof sub.type !== "string"
    ) {
      return { kind: "invalid", channel: "subscriptionResponse", reason: "ack without method/subscription" };
    }
    return {
      kind: "ack",
      method: d.method,
      subscription: {
        type: sub.type,
        coin: typeof sub.coin === "string" ? sub.coin : undefined,
        interval: typeof sub.interval === "string" ? sub.interval : undefined,
      },
    };
  }

  /** Milliseconds now from the parser's clock. */
  now(): number {
    return this.#now();
  }
}

/** `levels` (count, then each price and size) mixed into `hash` (see `mixNumber`). */
function hashLevels(hash: number, levels: readonly (readonly [number, number])[]): number {
  let h = mixNumber(hash, levels.length);
  for (let i = 0; i < levels.length; i += 1) h = mixNumber(mixNumber(h, levels[i]![0]), levels[i]![1]);
  return h;
}

/**
 * One side of an `l2Book`, best first: every level a positive price and a positive size (decimal
 * strings), prices strictly descending (`direction` -1, bids) or ascending (1, asks). A string says
 * what is wrong with the first bad level.
 */
function toLevels(side: unknown, name: string, direction: 1 | -1): [number, number][] | string {
  if (!Array.isArray(side)) return `${name} is not an array`;
  const out: [number, number][] = new Array<[number, number]>(side.length);
  for (let i = 0; i < side.length; i += 1) {
    const level = side[i] as { px?: unknown; sz?: unknown } | null | undefined;
    if (typeof level !== "object" || level === null) return `${name}[${i}] bad level`;
    const key = forbiddenKey(level);
    if (key !== undefined) return `${name}[${i}]: ${forbidden(key)}`;
    const px = num(level.px);
    const sz = num(level.sz);
    if (!(px > 0 && sz > 0)) return `${name}[${i}] bad level`;
    if (i > 0 && !((px - out[i - 1]![0]) * direction > 0)) {
      const previous = out[i - 1]![0];
      return `${name}[${i}] ${px} is not ${direction < 0 ? "below" : "above"} ${name}[${i - 1}] ${previous}`;
    }
    out[i] = [px, sz];
  }
  return out;
}

/** `px`, or `px (a JSON number, …)` when the value is a number where the exchange sends a string. */
function badDecimal(name: string, value: unknown): string {
  return typeof value === "number" ? `${name} (a JSON number, not a decimal string)` : name;
}

function describeBadTrade(t: Record<string, unknown>): string {
  const bad: string[] = [];
  if (!(num(t.px) > 0)) bad.push(badDecimal("px", t.px));
  if (!(num(t.sz) > 0)) bad.push(badDecimal("sz", t.sz));
  if (!isTime(t.time)) bad.push("time");
  if (!Number.isSafeInteger(t.tid)) bad.push("tid");
  if (t.side !== "A" && t.side !== "B") bad.push("side");
  return bad.join(", ");
}

function preview(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
