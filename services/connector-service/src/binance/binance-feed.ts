import type { StandardEvent } from "@market-scraper/events";
import type { ConnectorErrorCode } from "../framework/connector-error.js";
import type { ConnectorMetrics } from "../framework/connector-metrics.js";
import type { BookDelta, BookSnapshot } from "../framework/order-book/index.js";
import type { FrameHandler } from "../framework/replay-connector.js";
import { TradeDeduplicator } from "../framework/trade-deduplicator.js";
import { BinanceParser } from "./binance-parser.js";
import type { BinanceMarket, BinanceMarketKind } from "./binance-symbols.js";

export interface BinanceFeedHooks {
  publish(event: StandardEvent): void;
  error(code: ConnectorErrorCode, message: string, details: Record<string, unknown>): void;
  /** A diff-depth event for `rawSymbol`'s book. */
  delta?(rawSymbol: string, delta: BookDelta): void;
  /** A depth snapshot (a generated `@depthSnapshot` frame: replays; live snapshots come over REST). */
  snapshot?(rawSymbol: string, snapshot: BookSnapshot): void;
  /** `{"result":null,"id":n}`: a SUBSCRIBE/UNSUBSCRIBE was accepted. */
  onAck?(id: unknown): void;
  /** `{"error":{…},"id":n}`. */
  onExchangeError?(id: unknown, code: unknown, message: string): void;
  /** `serverShutdown`: the connection is about to be closed by the server. */
  onShutdown?(): void;
}

export interface BinanceFeedOptions {
  source: string;
  kind: BinanceMarketKind;
  markets: Iterable<BinanceMarket>;
  hooks: BinanceFeedHooks;
  metrics: ConnectorMetrics;
  dedupCapacity?: number;
}

/**
 * The protocol side of a Binance connector, shared by the live connector and the replay: frames in,
 * de-duplicated events and book updates out, bad frames as `PARSE_ERROR` events (counted per channel).
 */
export class BinanceFeed implements FrameHandler {
  readonly parser: BinanceParser;
  readonly dedup: TradeDeduplicator;
  readonly #hooks: BinanceFeedHooks;
  readonly #metrics: ConnectorMetrics;
  readonly #source: string;
  /** Receive time of the last frame per channel. */
  readonly lastFrameAt = new Map<string, number>();

  constructor(options: BinanceFeedOptions) {
    this.#source = options.source;
    this.dedup = new TradeDeduplicator(options.dedupCapacity);
    this.parser = new BinanceParser({
      source: options.source,
      kind: options.kind,
      markets: options.markets,
      dedup: this.dedup,
    });
    this.#hooks = options.hooks;
    this.#metrics = options.metrics;
  }

  #count(channel: string, receivedAt: number): void {
    this.#metrics.messageIn(this.#source, channel);
    this.lastFrameAt.set(channel, receivedAt);
  }

  handleBinary(bytes: number, receivedAt: number): void {
    this.#count("binary", receivedAt);
    this.#metrics.parseError(this.#source, "binary");
    this.#hooks.error(
      "UNEXPECTED_FRAME",
      `${this.#source} sent a binary frame (${bytes} bytes); Binance sends text frames only`,
      { channel: "binary", bytes },
    );
  }

  handleFrame(text: string, receivedAt: number): void {
    const result = this.parser.parse(text, receivedAt);
    switch (result.kind) {
      case "trade":
        this.#count(result.channel, receivedAt);
        if (result.event === undefined) this.#metrics.duplicate(this.#source);
        else this.#hooks.publish(result.event);
        return;
      case "depth":
        this.#count("depth", receivedAt);
        this.#hooks.delta?.(result.rawSymbol, result.delta);
        return;
      case "depth-snapshot":
        this.#count("depthSnapshot", receivedAt);
        this.#hooks.snapshot?.(result.rawSymbol, result.snapshot);
        return;
      case "book-ticker":
        this.#count("bookTicker", receivedAt);
        return;
      case "ticker":
        this.#count("ticker", receivedAt);
        if (result.event !== undefined) this.#hooks.publish(result.event);
        return;
      case "kline":
        this.#count("kline", receivedAt);
        this.#hooks.publish(result.event);
        return;
      case "mark-price":
        this.#count("markPrice", receivedAt);
        this.#hooks.publish(result.event);
        return;
      case "open-interest":
        this.#count("openInterest", receivedAt);
        return;
      case "liquidation":
        this.#count("forceOrder", receivedAt);
        this.#hooks.publish(result.event);
        return;
      case "ack":
        this.#count("control", receivedAt);
        this.#hooks.onAck?.(result.id);
        return;
      case "exchange-error":
        this.#count("control", receivedAt);
        if (this.#hooks.onExchangeError !== undefined)
          this.#hooks.onExchangeError(result.id, result.code, result.message);
        else
          this.#hooks.error("EXCHANGE_ERROR", `${this.#source}: ${result.message}`, {
            code: result.code as never,
          });
        return;
      case "shutdown":
        this.#count("control", receivedAt);
        this.#hooks.onShutdown?.();
        return;
      case "invalid": {
        this.#count(result.channel, receivedAt);
        this.#metrics.parseError(this.#source, result.channel);
        this.#hooks.error("PARSE_ERROR", `${this.#source} ${result.channel}: ${result.reason}`, {
          channel: result.channel,
          frame: text.length > 500 ? `${text.slice(0, 500)}…` : text,
        });
        return;
      }
    }
  }
}
