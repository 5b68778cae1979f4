import type { BackoffOptions } from "@market-scraper/bus";
import { ConnectorError } from "../framework/connector-error.js";
import { Connector, type ConnectorOptions } from "../framework/connector.js";
import type { RawCaptureWriter } from "../framework/raw-capture.js";
import { ReconnectingWebSocket, type WsCloseInfo } from "../framework/reconnecting-websocket.js";
import { RestClient } from "../framework/rest-client.js";
import type { TimerHandle } from "../framework/scheduler.js";
import { HyperliquidFeed, subscriptionKey } from "./hyperliquid-feed.js";
import type { HlSubscriptionEcho } from "./hyperliquid-parser.js";
import { type HyperliquidMarket, HyperliquidSymbols, marketsFromMeta } from "./hyperliquid-symbols.js";

/** Our channel names (ARCHITECTURE §6 `HYPERLIQUID_CHANNELS`) and the event types they produce. */
export const HYPERLIQUID_CHANNELS = ["trade", "order_book", "ticker", "ohlcv"] as const;
export type HyperliquidChannel = (typeof HYPERLIQUID_CHANNELS)[number];

/** Candle intervals Hyperliquid streams. */
export const HYPERLIQUID_INTERVALS = [
  "1m",
  "3m",
  "5m",
  "15m",
  "30m",
  "1h",
  "2h",
  "4h",
  "8h",
  "12h",
  "1d",
  "3d",
  "1w",
  "1M",
] as const;

export const HYPERLIQUID_DEFAULT_WS_URL = "wss://api.hyperliquid.xyz/ws";
export const HYPERLIQUID_DEFAULT_REST_URL = "https://api.hyperliquid.xyz";

/** How long `stop()` waits for REST calls in flight. */
const STOP_GRACE_MS = 2_000;

/** REST weights (docs: 1200 per minute; `meta`, `spotMeta`, `candleSnapshot` weigh 20). */
const INFO_WEIGHT = 20;

export interface HyperliquidConnectorOptions extends Omit<ConnectorOptions, "name"> {
  name?: string;
  wsUrl?: string;
  restUrl?: string;
  /** Coins as the exchange names them (`BTC`, `PURR/USDC`, `@107`) or normalized (`BTC-USD`). */
  symbols: readonly string[];
  channels: readonly HyperliquidChannel[];
  /** Candle intervals for `ohlcv`; default `1m`. */
  intervals?: readonly string[];
  /** Per channel: no frame for this long on one of its subscriptions → reconnect. Unset = not watched. */
  staleAfterMs?: Partial<Record<HyperliquidChannel, number>>;
  /** No frame at all (pongs included) for this long → reconnect. Default 60 s. */
  connectionStaleAfterMs?: number;
  /** `{"method":"ping"}` interval; the server closes connections silent for 60 s. Default 20 s. */
  pingIntervalMs?: number;
  /** Reconnect proactively once a connection is this old. Default 24 h. */
  maxConnectionAgeMs?: number;
  connectTimeoutMs?: number;
  /** Subscriptions not acknowledged in this time are reported `SUBSCRIBE_FAILED`. Default 10 s. */
  ackTimeoutMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  /** REST weight per minute; default 1200. */
  restWeightPerMinute?: number;
  fetch?: typeof fetch;
  capture?: RawCaptureWriter;
  dedupCapacity?: number;
}

interface Subscription {
  key: string;
  channel: HyperliquidChannel;
  market: HyperliquidMarket;
  message: string;
  staleAfterMs: number | undefined;
}

/**
 * Hyperliquid: WebSocket `trades` → `trade`, `l2Book` → `order_book`, `candle` → `ohlcv`, `bbo` +
 * `activeAssetCtx` → `ticker`; REST `meta`/`spotMeta` resolve and validate the symbols (an unknown coin
 * is never subscribed: the server would close the whole socket), `candleSnapshot` backfills the candles
 * missed while disconnected. Re-sent trade snapshots are de-duplicated.
 */
export class HyperliquidConnector extends Connector {
  readonly #options: HyperliquidConnectorOptions;
  readonly rest: RestClient;
  #ws: ReconnectingWebSocket | undefined;
  #feed: HyperliquidFeed | undefined;
  #init: Promise<void> | undefined;
  #subscriptions = new Map<string, Subscription>();
  #pendingAcks = new Set<string>();
  #ackTimer: TimerHandle | undefined;
  #failedSubscriptions = new Set<string>();
  #hadSubscribed = false;
  #closesBeforeSubscribed = 0;
  #revalidating = false;
  #backfills = new Set<Promise<void>>();
  #stopping = false;
  /** `lastCandleOpen` when the last subscribed connection dropped: where the backfill starts. */
  #candlesAtDisconnect = new Map<string, number>();

  constructor(options: HyperliquidConnectorOptions) {
    super({ ...options, name: options.name ?? "hyperliquid" });
    this.#options = options;
    this.rest = new RestClient({
      baseUrl: options.restUrl ?? HYPERLIQUID_DEFAULT_REST_URL,
      weightPerWindow: options.restWeightPerMinute ?? 1200,
      scheduler: this.scheduler,
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      onRateLimited: (info) => {
        this.metrics.rateLimited(this.name);
        this.emitError(
          "RATE_LIMIT",
          `hyperliquid REST answered 429; holding requests for ${info.retryAfterMs} ms`,
          {
            status: info.status,
            retry_after_ms: info.retryAfterMs,
            attempt: info.attempt,
            url: info.url,
          },
        );
      },
    });
  }

  /** The feed (parser, de-duplicator) once the markets are resolved. */
  get feed(): HyperliquidFeed | undefined {
    return this.#feed;
  }

  get socket(): ReconnectingWebSocket | undefined {
    return this.#ws;
  }

  /** Resolves once the markets are resolved and the socket started (or the start was abandoned). */
  ready(): Promise<void> {
    return this.#init ?? Promise.resolve();
  }

  protected override degradedReason(): string | undefined {
    const reasons: string[] = [];
    if (this.#failedSubscriptions.size > 0)
      reasons.push(`subscriptions not acknowledged: ${[...this.#failedSubscriptions].join(", ")}`);
    return reasons.length > 0 ? reasons.join("; ") : undefined;
  }

  protected override async onStart(): Promise<void> {
    this.#stopping = false;
    this.#abort = new AbortController();
    this.setState("connecting", { message: "resolving symbols" });
    this.watchFrameAges(() => this.#feed?.lastFrameAt);
    this.#init = this.#initialize().catch((error: unknown) => {
      this.logger.error({ err: error }, "hyperliquid connector failed to initialize");
    });
  }

  protected override async onStop(): Promise<void> {
    this.#stopping = true;
    this.#abort.abort();
    this.wakeSleepers();
    this.scheduler.clearTimeout(this.#ackTimer);
    await this.#ws?.stop();
    // A REST call in flight (rate limited, or waiting for a slow exchange) must not hold up shutdown:
    // give it a moment, then go (nothing it could still do is published after the stop).
    const inFlight = Promise.allSettled([this.#init, ...this.#backfills]);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_GRACE_MS);
      timer.unref();
      void inFlight.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #abort = new AbortController();

  /** Waits `ms` on the scheduler; `stop()` ends every wait at once. */

  async #fetchMarkets(): Promise<HyperliquidMarket[]> {
    const [meta, spotMeta] = await Promise.all([
      this.rest.post("/info", { type: "meta" }, INFO_WEIGHT, this.#abort.signal),
      this.rest.post("/info", { type: "spotMeta" }, INFO_WEIGHT, this.#abort.signal),
    ]);
    return marketsFromMeta(meta, spotMeta);
  }

  /** `meta` + `spotMeta`, retried with backoff until they answer or the connector stops. */
  #loadMarkets(): Promise<HyperliquidMarket[] | undefined> {
    return this.loadUntilStopped("meta/spotMeta", () => this.#fetchMarkets(), {
      stopping: () => this.#stopping,
      backoff: this.#options.backoff,
      random: this.#options.random,
    });
  }

  async #initialize(): Promise<void> {
    const markets = await this.#loadMarkets();
    if (markets === undefined || this.#stopping) return;
    const symbols = new HyperliquidSymbols(markets);
    const { markets: wanted, unknown } = symbols.resolveAll(this.#options.symbols);
    this.#reportUnknown(unknown, symbols.size);
    this.#options.capture?.writeMarkets(this.name, markets);
    this.#feed = new HyperliquidFeed({
      source: this.name,
      markets,
      metrics: this.metrics,
      ...(this.#options.dedupCapacity === undefined ? {} : { dedupCapacity: this.#options.dedupCapacity }),
      hooks: {
        publish: (event) => this.publish(event),
        error: (code, message, details) => this.emitError(code, message, details),
        onAck: (method, sub) => this.#onAck(method, sub),
        onPong: (at) => {
          const sent = this.#ws?.lastKeepaliveAt;
          if (sent !== undefined && at >= sent) this.latencyMs = at - sent;
        },
        onExchangeError: (message) => this.#onExchangeError(message),
        touch: (key, at) => this.#ws?.touch(key, at),
      },
    });
    const ws = new ReconnectingWebSocket({
      url: this.#options.wsUrl ?? HYPERLIQUID_DEFAULT_WS_URL,
      scheduler: this.scheduler,
      ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
      ...(this.#options.backoff === undefined ? {} : { backoff: this.#options.backoff }),
      ...(this.#options.connectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: this.#options.connectTimeoutMs }),
      keepalive: { intervalMs: this.#options.pingIntervalMs ?? 20_000, message: '{"method":"ping"}' },
      staleAfterMs: this.#options.connectionStaleAfterMs ?? 60_000,
      maxConnectionAgeMs: this.#options.maxConnectionAgeMs ?? 24 * 3_600_000,
      listener: {
        onConnecting: (attempt) => this.setState("connecting", attempt > 0 ? { attempt } : {}),
        onOpen: () => this.#onOpen(),
        onMessage: (text, receivedAt) => {
          this.lastMessageAt = receivedAt;
          this.#options.capture?.writeFrame(receivedAt, text);
          this.#feed?.handleFrame(text, receivedAt);
        },
        onBinary: (bytes, receivedAt) => {
          this.lastMessageAt = receivedAt;
          this.#feed?.handleBinary(bytes, receivedAt);
        },
        onClose: (info) => this.#onClose(info),
      },
    });
    this.#ws = ws;
    for (const market of wanted)
      for (const channel of this.#options.channels) this.#addSubscriptions(market, channel);
    if (this.#subscriptions.size === 0) {
      this.setState("disconnected", { message: "no valid symbol to subscribe" });
      return;
    }
    if (this.#stopping) return;
    ws.start();
  }

  #reportUnknown(unknown: readonly string[], listed: number): void {
    this.setUnknownSymbols(unknown);
    for (const name of unknown) {
      this.emitError("INVALID_SYMBOL", `hyperliquid does not list '${name}'; not subscribed`, {
        symbol: name,
        markets_listed: listed,
      });
    }
  }

  #addSubscriptions(market: HyperliquidMarket, channel: HyperliquidChannel): void {
    const stale = this.#options.staleAfterMs?.[channel];
    const add = (sub: Record<string, string>): void => {
      const key = subscriptionKey(sub.type!, market.coin, sub.interval);
      const message = JSON.stringify({ method: "subscribe", subscription: sub });
      this.#subscriptions.set(key, { key, channel, market, message, staleAfterMs: stale });
      this.#ws?.subscribe(key, message, stale);
    };
    switch (channel) {
      case "trade":
        add({ type: "trades", coin: market.coin });
        return;
      case "order_book":
        add({ type: "l2Book", coin: market.coin });
        return;
      case "ticker":
        add({ type: "bbo", coin: market.coin });
        add({ type: "activeAssetCtx", coin: market.coin });
        return;
      case "ohlcv":
        for (const interval of this.#options.intervals ?? ["1m"])
          add({ type: "candle", coin: market.coin, interval });
        return;
    }
  }

  #onOpen(): void {
    this.setState("connected");
    this.#pendingAcks = new Set(this.#subscriptions.keys());
    this.#failedSubscriptions.clear();
    this.scheduler.clearTimeout(this.#ackTimer);
    this.#ackTimer = this.scheduler.setTimeout(
      () => this.#onAckTimeout(),
      this.#options.ackTimeoutMs ?? 10_000,
    );
  }

  #onAck(method: "subscribe" | "unsubscribe", sub: HlSubscriptionEcho): void {
    if (method !== "subscribe" || sub.coin === undefined) return;
    this.#acknowledge(subscriptionKey(sub.type, sub.coin, sub.interval));
  }

  #acknowledge(key: string): void {
    if (!this.#pendingAcks.delete(key) || this.#pendingAcks.size > 0) return;
    this.scheduler.clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    this.#onAllSubscribed();
  }

  #onAllSubscribed(): void {
    const reconnected = this.#hadSubscribed;
    this.#hadSubscribed = true;
    this.#closesBeforeSubscribed = 0;
    const symbols = [...new Set([...this.#subscriptions.values()].map((s) => s.market.symbol))];
    this.setState("subscribed", { symbols });
    if (reconnected) this.#startBackfill();
  }

  #onAckTimeout(): void {
    this.#ackTimer = undefined;
    if (this.#pendingAcks.size === 0) return;
    for (const key of this.#pendingAcks) {
      this.#failedSubscriptions.add(key);
      this.emitError("SUBSCRIBE_FAILED", `hyperliquid did not acknowledge ${key}`, { subscription: key });
    }
    this.#pendingAcks.clear();
    // The other streams flow: report subscribed (degraded, see health()).
    this.#onAllSubscribed();
  }

  #onExchangeError(message: string): void {
    const subscriptionText =
      /^(Already subscribed|Error parsing JSON into valid websocket request): (.*)$/s.exec(message);
    if (subscriptionText !== null) {
      const key = this.#keyOfSubscriptionText(subscriptionText[2] ?? "");
      if (key !== undefined && subscriptionText[1] === "Already subscribed") {
        // The server has the subscription: as good as an ack.
        this.#acknowledge(key);
        return;
      }
      if (key !== undefined) {
        this.#pendingAcks.delete(key);
        this.#failedSubscriptions.add(key);
        this.emitError("SUBSCRIBE_FAILED", `hyperliquid refused ${key}: ${message}`, { subscription: key });
        if (this.#pendingAcks.size === 0 && this.state === "connected") this.#onAllSubscribed();
        return;
      }
    }
    this.emitError("EXCHANGE_ERROR", `hyperliquid: ${message}`, { channel: "error" });
  }

  #keyOfSubscriptionText(text: string): string | undefined {
    try {
      const parsed = JSON.parse(text) as { subscription?: Record<string, unknown> } & Record<string, unknown>;
      const sub = (parsed.subscription ?? parsed) as { type?: unknown; coin?: unknown; interval?: unknown };
      if (typeof sub.type !== "string" || typeof sub.coin !== "string") return undefined;
      const key = subscriptionKey(
        sub.type,
        sub.coin,
        typeof sub.interval === "string" ? sub.interval : undefined,
      );
      return this.#subscriptions.has(key) ? key : undefined;
    } catch {
      return undefined;
    }
  }

  #onClose(info: WsCloseInfo): void {
    this.scheduler.clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (!info.willReconnect) return;
    const previous = this.state;
    const wasOpen = previous === "connected" || previous === "subscribed";
    if (previous === "subscribed") {
      this.metrics.gap(this.name);
      // Snapshot now: the first frames after re-subscribing move lastCandleOpen past the gap.
      this.#candlesAtDisconnect = new Map(this.#feed?.lastCandleOpen ?? []);
    }
    if (wasOpen) {
      this.reconnects += 1;
      this.metrics.reconnect(this.name);
    }
    if (info.cause === "stale") {
      const what = info.staleKey === undefined ? "the connection" : info.staleKey;
      this.setState("stale", {
        message: `no data on ${what}`,
        ...(info.staleKey === undefined ? {} : { channel: info.staleKey }),
      });
      this.emitError("STALE", `hyperliquid: no data on ${what}; reconnecting`, {
        subscription: info.staleKey ?? null,
      });
    }
    if (wasOpen && info.cause === "max-age") {
      this.logger.info("replacing the hyperliquid connection before its age limit");
    } else if (wasOpen) {
      this.emitError("DISCONNECTED", `hyperliquid connection lost (${info.cause}, code ${info.code})`, {
        code: info.code,
        reason: info.reason,
        cause: info.cause,
        retry_in_ms: info.delayMs,
      });
    } else {
      this.logger.warn(
        { cause: info.cause, code: info.code, err: info.error },
        "hyperliquid connection attempt failed",
      );
    }
    this.setState("reconnecting", {
      attempt: info.attempt,
      message: `retry in ${info.delayMs} ms (${info.cause})`,
    });
    // Closed before every subscription was acknowledged, twice in a row: the classic sign of a coin the
    // server does not know (it drops the socket without a word). Look the markets up again.
    if (previous === "connected" && this.#pendingAcks.size > 0) {
      this.#closesBeforeSubscribed += 1;
      if (this.#closesBeforeSubscribed >= 2) this.#revalidate();
    }
  }

  #revalidate(): void {
    if (this.#revalidating || this.#stopping) return;
    this.#revalidating = true;
    const run = (async () => {
      try {
        const markets = await this.#fetchMarkets();
        const symbols = new HyperliquidSymbols(markets);
        const gone = [...this.#subscriptions.values()].filter(
          (s) => symbols.byCoin(s.market.coin) === undefined,
        );
        const names = [...new Set(gone.map((s) => s.market.coin))];
        for (const sub of gone) {
          this.#subscriptions.delete(sub.key);
          this.#pendingAcks.delete(sub.key);
          this.#ws?.unsubscribe(sub.key);
        }
        if (names.length > 0) {
          this.setUnknownSymbols([...this.unknownSymbols, ...names]);
          for (const name of names) {
            this.emitError("INVALID_SYMBOL", `hyperliquid no longer lists '${name}'; unsubscribed`, {
              symbol: name,
            });
          }
          this.#closesBeforeSubscribed = 0;
        }
      } catch (error) {
        this.logger.warn({ err: error }, "could not re-validate hyperliquid symbols");
      } finally {
        this.#revalidating = false;
      }
    })();
    this.#track(run);
  }

  #track(promise: Promise<void>): void {
    this.#backfills.add(promise);
    void promise.finally(() => this.#backfills.delete(promise));
  }

  /** Fetches, over REST, the candles that closed while we were disconnected. */
  #startBackfill(): void {
    const feed = this.#feed;
    const from = this.#candlesAtDisconnect;
    this.#candlesAtDisconnect = new Map();
    if (feed === undefined || from.size === 0) return;
    const jobs = [...from].map(([key, since]) => this.#backfill(feed, key, since));
    this.#track(Promise.allSettled(jobs).then(() => undefined));
  }

  async #backfill(feed: HyperliquidFeed, key: string, since: number): Promise<void> {
    const [coin, interval] = key.split("|") as [string, string];
    const market = feed.parser.market(coin);
    if (market === undefined) return;
    const now = this.scheduler.now();
    try {
      const answer = await this.rest.post(
        "/info",
        { type: "candleSnapshot", req: { coin, interval, startTime: since, endTime: now } },
        INFO_WEIGHT,
        this.#abort.signal,
      );
      if (!Array.isArray(answer))
        throw new ConnectorError("PARSE_ERROR", "candleSnapshot did not answer an array");
      let count = 0;
      for (const item of answer) {
        if (typeof item !== "object" || item === null) continue;
        const event = feed.parser.candleEvent(market, item as Record<string, unknown>, this.scheduler.now());
        if (typeof event === "string") {
          this.metrics.parseError(this.name, "candleSnapshot");
          this.emitError("PARSE_ERROR", `hyperliquid candleSnapshot: ${event}`, {
            channel: "candleSnapshot",
          });
          continue;
        }
        const openTime = Date.parse(event.payload.timestamp);
        if (openTime < since || event.payload.closed !== true) continue;
        // Already published as closed (live): that one was final.
        const closedUpTo = feed.lastClosedCandle.get(key);
        if (closedUpTo !== undefined && openTime <= closedUpTo) continue;
        if (this.#stopping) return;
        feed.noteClosedCandle(key, openTime);
        this.publish(event);
        count += 1;
      }
      this.metrics.backfilled(this.name, count);
      this.logger.info({ coin, interval, since, count }, "backfilled candles");
    } catch (error) {
      this.emitError(
        "BACKFILL_FAILED",
        `hyperliquid: cannot backfill ${coin} ${interval} candles: ${String(error)}`,
        {
          coin,
          interval,
          since,
        },
      );
    }
  }
}
