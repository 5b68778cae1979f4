import type { StandardEvent } from "@market-scraper/events";
import type { ConnectorErrorCode } from "../framework/connector-error.js";
import type { ConnectorMetrics } from "../framework/connector-metrics.js";
import type { ConnectorOrderBookOptions } from "../framework/connector.js";
import type { OrderBookSync } from "../framework/order-book/order-book-sync.js";
import type { FrameHandler } from "../framework/replay-connector.js";
import { TradeDeduplicator } from "../framework/trade-deduplicator.js";
import type { BybitCategory, BybitInstrument } from "./bybit-instruments.js";
import { BYBIT_TOPIC_CHANNELS, BybitParser } from "./bybit-parser.js";
import { bybitSequenceRules } from "./bybit-sequence-rules.js";

export interface BybitFeedHooks {
  publish(event: StandardEvent): void;
  error(code: ConnectorErrorCode, message: string, details: Record<string, unknown>): void;
  /** A subscribe/unsubscribe answer. */
  onAck?(op: "subscribe" | "unsubscribe", success: boolean, reqId: string, message: string): void;
  onPong?(receivedAt: number): void;
  /** A book must be rebuilt: ask the exchange for a fresh snapshot (Bybit: resubscribe its topic). */
  requestSnapshot?(rawSymbol: string): void;
}

export interface BybitBookOptions {
  /** Instruments whose `orderbook.<depth>` topic is subscribed (their raw symbols). */
  rawSymbols: readonly string[];
  /** Levels per side published (`<NAME>_BOOK_DEPTH`). */
  depth: number;
  /** Conflation interval (`<NAME>_BOOK_INTERVAL`); 0 = every update. */
  intervalMs: number;
  /** A synced book with no update for this long is resynced; absent = never. */
  staleAfterMs?: number;
  /**
   * Makes the book of one symbol, wired to its publisher (the live connector's `createOrderBook`: events,
   * `BOOK_RESYNC`, per-symbol status; a replay's own).
   */
  create: (options: ConnectorOrderBookOptions) => OrderBookSync;
}

export interface BybitFeedOptions {
  source: string;
  category: BybitCategory;
  instruments: Iterable<BybitInstrument>;
  hooks: BybitFeedHooks;
  metrics: ConnectorMetrics;
  dedupCapacity?: number;
  books?: BybitBookOptions;
  /**
   * The channels whose events are published (`tickers` feeds both `ticker` and `derivative_ticker`:
   * only the configured ones go out); default all.
   */
  emit?: ReadonlySet<string>;
}

const KNOWN_CHANNELS: ReadonlySet<string> = new Set(BYBIT_TOPIC_CHANNELS);

/** The `orderbook.<depth>` level Bybit streams for a published depth: 50 (20 ms) covers up to 50 levels. */
export function bybitBookDepth(depth: number): 50 | 200 | 1000 {
  return depth <= 50 ? 50 : depth <= 200 ? 200 : 1000;
}

/**
 * The protocol side of a Bybit connector, shared by the live connector and the replay: frames in,
 * de-duplicated events out; `orderbook` snapshots and deltas go through one `OrderBookSync` per symbol
 * (Bybit's rules: a stream snapshot is a reset, `u` + 1 per delta, anything else a gap → resync that
 * symbol). Parse problems become `PARSE_ERROR` events (the good data of a frame is kept).
 */
export class BybitFeed implements FrameHandler {
  readonly parser: BybitParser;
  readonly dedup: TradeDeduplicator;
  readonly books = new Map<string, OrderBookSync>();
  readonly #hooks: BybitFeedHooks;
  readonly #metrics: ConnectorMetrics;
  readonly #source: string;
  readonly #emitTicker: boolean;
  readonly #emitDerivative: boolean;
  /** Receive time of the last frame per channel. */
  readonly lastFrameAt = new Map<string, number>();

  constructor(options: BybitFeedOptions) {
    this.#source = options.source;
    this.#hooks = options.hooks;
    this.#metrics = options.metrics;
    this.dedup = new TradeDeduplicator(options.dedupCapacity);
    this.#emitTicker = options.emit?.has("ticker") ?? true;
    this.#emitDerivative = options.emit?.has("derivative_ticker") ?? true;
    this.parser = new BybitParser({
      source: options.source,
      category: options.category,
      instruments: options.instruments,
      dedup: this.dedup,
    });
    const books = options.books;
    if (books === undefined) return;
    const rules = bybitSequenceRules();
    for (const raw of books.rawSymbols) {
      const instrument = this.parser.instrument(raw);
      if (instrument === undefined) continue;
      this.books.set(
        raw,
        books.create({
          symbol: instrument.symbol,
          rawSymbol: raw,
          rules,
          depth: books.depth,
          intervalMs: books.intervalMs,
          requestSnapshot: () => this.#hooks.requestSnapshot?.(raw),
          ...(books.staleAfterMs === undefined ? {} : { staleAfterMs: books.staleAfterMs }),
        }),
      );
    }
  }

  /** The connection carrying these symbols is lost: their books and merged tickers start over. */
  disconnected(rawSymbols: Iterable<string>): void {
    for (const raw of rawSymbols) {
      this.books.get(raw)?.onDisconnect();
      this.parser.resetTicker(raw);
    }
  }

  close(): void {
    for (const book of this.books.values()) book.close();
  }

  #count(channel: string, receivedAt: number): void {
    this.#metrics.messageIn(this.#source, channel);
    this.lastFrameAt.set(channel, receivedAt);
  }

  #parseError(channel: string, reason: string, text: string): void {
    this.#metrics.parseError(this.#source, channel);
    this.#hooks.error("PARSE_ERROR", `${this.#source} ${channel}: ${reason}`, {
      channel,
      frame: text.length > 500 ? `${text.slice(0, 500)}…` : text,
    });
  }

  /** A binary frame: Bybit sends text only. Counted under channel `binary`, reported, dropped. */
  handleBinary(bytes: number, receivedAt: number): void {
    this.#count("binary", receivedAt);
    this.#metrics.parseError(this.#source, "binary");
    this.#hooks.error(
      "UNEXPECTED_FRAME",
      `${this.#source} sent a binary frame (${bytes} bytes); Bybit sends text only`,
      {
        channel: "binary",
        bytes,
      },
    );
  }

  handleFrame(text: string, receivedAt: number): void {
    const result = this.parser.parse(text, receivedAt);
    switch (result.kind) {
      case "trades":
        this.#count("publicTrade", receivedAt);
        for (const event of result.events) this.#hooks.publish(event);
        for (let i = 0; i < result.duplicates; i += 1) this.#metrics.duplicate(this.#source);
        if (result.problems.length > 0) this.#parseError("publicTrade", result.problems.join("; "), text);
        return;
      case "ticker":
        this.#count("tickers", receivedAt);
        if (result.ticker !== undefined && this.#emitTicker) this.#hooks.publish(result.ticker);
        if (result.derivative !== undefined && this.#emitDerivative) this.#hooks.publish(result.derivative);
        return;
      case "l1":
        this.#count("orderbook", receivedAt);
        return;
      case "book": {
        this.#count("orderbook", receivedAt);
        const book = this.books.get(result.rawSymbol);
        if (book === undefined) return;
        if (result.update.type === "snapshot")
          book.onSnapshot({ ...result.update.snapshot, exchangeTime: result.exchangeTime });
        else book.onDelta(result.update.delta);
        return;
      }
      case "kline":
        this.#count("kline", receivedAt);
        for (const event of result.events) this.#hooks.publish(event);
        if (result.problems.length > 0) this.#parseError("kline", result.problems.join("; "), text);
        return;
      case "liquidations":
        this.#count("allLiquidation", receivedAt);
        for (const event of result.events) this.#hooks.publish(event);
        if (result.problems.length > 0) this.#parseError("allLiquidation", result.problems.join("; "), text);
        return;
      case "ack":
        this.#count("ack", receivedAt);
        this.#hooks.onAck?.(result.op, result.success, result.reqId, result.message);
        return;
      case "pong":
        this.#count("pong", receivedAt);
        this.#hooks.onPong?.(receivedAt);
        return;
      case "invalid": {
        // Unknown channel names stay out of metric labels (garbage must not grow the label set).
        const channel =
          result.channel !== undefined && KNOWN_CHANNELS.has(result.channel) ? result.channel : "unknown";
        this.#count(channel, receivedAt);
        this.#parseError(channel, result.reason, text);
        return;
      }
    }
  }
}
