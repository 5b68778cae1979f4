import type { StandardEvent } from "@market-scraper/events";
import type { ConnectorErrorCode } from "../framework/connector-error.js";
import type { ConnectorMetrics } from "../framework/connector-metrics.js";
import type { FrameHandler } from "../framework/replay-connector.js";
import { TradeDeduplicator } from "../framework/trade-deduplicator.js";
import { type HlSubscriptionEcho, HyperliquidParser } from "./hyperliquid-parser.js";
import type { HyperliquidMarket } from "./hyperliquid-symbols.js";

export interface HyperliquidFeedHooks {
  publish(event: StandardEvent): void;
  error(code: ConnectorErrorCode, message: string, details: Record<string, unknown>): void;
  onAck?(method: "subscribe" | "unsubscribe", subscription: HlSubscriptionEcho): void;
  onPong?(receivedAt: number): void;
  /** A data frame arrived for the subscription `key` (`type|coin|interval`). */
  touch?(key: string, receivedAt: number): void;
  onExchangeError?(message: string): void;
}

export interface HyperliquidFeedOptions {
  source?: string;
  markets: Iterable<HyperliquidMarket>;
  hooks: HyperliquidFeedHooks;
  metrics: ConnectorMetrics;
  dedupCapacity?: number;
}

const KNOWN_CHANNELS = new Set([
  "trades",
  "l2Book",
  "candle",
  "bbo",
  "activeAssetCtx",
  "activeSpotAssetCtx",
  "subscriptionResponse",
  "error",
]);

/** `type|coin|interval`: how subscriptions are keyed (acks are matched on these three only). */
export function subscriptionKey(type: string, coin: string, interval?: string): string {
  return `${type}|${coin}|${interval ?? ""}`;
}

/**
 * The protocol side of the Hyperliquid connector, shared by the live connector and the replay: frames
 * in, de-duplicated events out, parse problems as `PARSE_ERROR` events (the good data of a frame is kept).
 */
export class HyperliquidFeed implements FrameHandler {
  readonly parser: HyperliquidParser;
  readonly dedup: TradeDeduplicator;
  readonly #hooks: HyperliquidFeedHooks;
  readonly #metrics: ConnectorMetrics;
  readonly #source: string;
  /** Open time of the newest candle seen per `coin|interval` (where a backfill starts). */
  readonly lastCandleOpen = new Map<string, number>();
  /** Open time of the newest candle published as closed per `coin|interval` (a backfill skips those). */
  readonly lastClosedCandle = new Map<string, number>();
  /** Receive time of the last frame per channel. */
  readonly lastFrameAt = new Map<string, number>();

  constructor(options: HyperliquidFeedOptions) {
    this.#source = options.source ?? "hyperliquid";
    this.dedup = new TradeDeduplicator(options.dedupCapacity);
    this.parser = new HyperliquidParser({
      source: this.#source,
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

  #parseError(channel: string, reason: string, text: string | undefined): void {
    this.#metrics.parseError(this.#source, channel);
    const details: Record<string, unknown> = { channel };
    if (text !== undefined) details.frame = text.length > 500 ? `${text.slice(0, 500)}…` : text;
    this.#hooks.error("PARSE_ERROR", `hyperliquid ${channel}: ${reason}`, details);
  }

  noteClosedCandle(key: string, openTime: number): void {
    const last = this.lastClosedCandle.get(key);
    if (last === undefined || openTime > last) this.lastClosedCandle.set(key, openTime);
  }

  /** A binary frame: Hyperliquid sends text only. Counted under channel `binary`, reported, dropped. */
  handleBinary(bytes: number, receivedAt: number): void {
    this.#count("binary", receivedAt);
    this.#metrics.parseError(this.#source, "binary");
    this.#hooks.error(
      "UNEXPECTED_FRAME",
      `hyperliquid sent a binary frame (${bytes} bytes); it sends text frames only`,
      { channel: "binary", bytes },
    );
  }

  handleFrame(text: string, receivedAt: number): void {
    const result = this.parser.parse(text, receivedAt);
    switch (result.kind) {
      case "trades": {
        this.#count("trades", receivedAt);
        if (result.coin !== "") this.#hooks.touch?.(subscriptionKey("trades", result.coin), receivedAt);
        for (const event of result.events) this.#hooks.publish(event);
        for (let i = 0; i < result.duplicates; i += 1) this.#metrics.duplicate(this.#source);
        if (result.problems.length > 0) this.#parseError("trades", result.problems.join("; "), text);
        return;
      }
      case "book":
        this.#count("l2Book", receivedAt);
        this.#hooks.touch?.(subscriptionKey("l2Book", result.coin), receivedAt);
        if (result.event !== undefined) this.#hooks.publish(result.event);
        return;
      case "candle": {
        this.#count("candle", receivedAt);
        this.#hooks.touch?.(subscriptionKey("candle", result.coin, result.interval), receivedAt);
        const key = `${result.coin}|${result.interval}`;
        const last = this.lastCandleOpen.get(key);
        if (last === undefined || result.openTime > last) this.lastCandleOpen.set(key, result.openTime);
        if (result.event.payload.closed === true) this.noteClosedCandle(key, result.openTime);
        this.#hooks.publish(result.event);
        return;
      }
      case "bbo":
        this.#count("bbo", receivedAt);
        this.#hooks.touch?.(subscriptionKey("bbo", result.coin), receivedAt);
        if (result.event !== undefined) this.#hooks.publish(result.event);
        return;
      case "asset-ctx":
        this.#count("activeAssetCtx", receivedAt);
        this.#hooks.touch?.(subscriptionKey("activeAssetCtx", result.coin), receivedAt);
        if (result.event !== undefined) this.#hooks.publish(result.event);
        return;
      case "ack":
        this.#count("subscriptionResponse", receivedAt);
        this.#hooks.onAck?.(result.method, result.subscription);
        return;
      case "pong":
        this.#count("pong", receivedAt);
        this.#hooks.onPong?.(receivedAt);
        return;
      case "exchange-error":
        this.#count("error", receivedAt);
        if (this.#hooks.onExchangeError) this.#hooks.onExchangeError(result.message);
        else this.#hooks.error("EXCHANGE_ERROR", `hyperliquid: ${result.message}`, { channel: "error" });
        return;
      case "ignored":
        this.#count("other", receivedAt);
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
