import type { BackoffOptions } from "@market-scraper/bus";
import { ConnectorError, describeError } from "../framework/connector-error.js";
import { Connector, type ConnectorOptions } from "../framework/connector.js";
import type { BookSnapshot, OrderBookSync } from "../framework/order-book/index.js";
import type { RawCaptureWriter } from "../framework/raw-capture.js";
import { ReconnectingWebSocket, type WsCloseInfo } from "../framework/reconnecting-websocket.js";
import { RestClient } from "../framework/rest-client.js";
import type { TimerHandle } from "../framework/scheduler.js";
import { binanceSpotRules, binanceUsdmRules } from "./binance-book-rules.js";
import { BinanceFeed } from "./binance-feed.js";
import { parseDepthSnapshot } from "./binance-parser.js";
import {
  type BinanceMarket,
  type BinanceMarketKind,
  BinanceSymbols,
  marketsFromExchangeInfo,
} from "./binance-symbols.js";

/** Channels of `binance` (spot) and `binance-usdm` (perpetuals: plus liquidations and derivatives state). */
export const BINANCE_SPOT_CHANNELS = ["trade", "order_book", "ticker", "ohlcv"] as const;
export const BINANCE_USDM_CHANNELS = [
  "trade",
  "order_book",
  "ticker",
  "ohlcv",
  "liquidation",
  "derivative_ticker",
] as const;
export type BinanceChannel = (typeof BINANCE_USDM_CHANNELS)[number];

/** Kline intervals of the `@kline_<interval>` streams (`1s` on spot only). */
export const BINANCE_INTERVALS = [
  "1s",
  "1m",
  "3m",
  "5m",
  "15m",
  "30m",
  "1h",
  "2h",
  "4h",
  "6h",
  "8h",
  "12h",
  "1d",
  "3d",
  "1w",
  "1M",
] as const;

export const BINANCE_DEFAULTS = {
  spot: {
    name: "binance",
    wsUrl: "wss://stream.binance.com:9443",
    restUrl: "https://api.binance.com",
    /** REQUEST_WEIGHT per minute (exchangeInfo `rateLimits`). */
    restWeightPerMinute: 6000,
    /** Incoming messages per second a connection may send (pongs and SUBSCRIBEs alike). */
    messagesPerSecond: 5,
  },
  usdm: {
    name: "binance-usdm",
    wsUrl: "wss://fstream.binance.com",
    restUrl: "https://fapi.binance.com",
    restWeightPerMinute: 2400,
    messagesPerSecond: 10,
  },
} as const;

/** How long `stop()` waits for REST calls in flight. */
const STOP_GRACE_MS = 2_000;
/** Streams named in one SUBSCRIBE message. */
const STREAMS_PER_MESSAGE = 50;

export interface BinanceConnectorOptions extends Omit<ConnectorOptions, "name"> {
  kind: BinanceMarketKind;
  /** Default `binance` (spot) or `binance-usdm`. */
  name?: string;
  /** Base URL; paths are added: `/stream` (spot), `/public/stream` and `/market/stream` (USDⓈ-M). */
  wsUrl?: string;
  restUrl?: string;
  /** `BTCUSDT`, `btcusdt` or `BTC-USDT`. */
  symbols: readonly string[];
  channels: readonly BinanceChannel[];
  /** Kline intervals for `ohlcv`; default `1m`. */
  intervals?: readonly string[];
  /** Levels per side in `order_book` events; default 20. */
  bookDepth?: number;
  /** At most one `order_book` per symbol per this many ms (final state always); 0 = every update. Default 100. */
  bookIntervalMs?: number;
  /** A synced book without an update this long is resynced; default 60 s; 0 = never. */
  bookStaleAfterMs?: number;
  /** `limit` of the REST depth snapshot; default 1000 (weight 50 on spot). */
  snapshotLimit?: number;
  /** Streams per WebSocket connection (Binance allows 1024); default 200. */
  streamsPerConnection?: number;
  /** SUBSCRIBE messages per second per connection, below Binance's limit (5 spot, 10 futures, pongs included); default 3 / 8. */
  subscribeMessagesPerSecond?: number;
  /** Replace a connection before Binance's 24 h cut; default 23 h 30 min (spread: see `connectionAgeSpreadMs`). */
  maxConnectionAgeMs?: number;
  /** Connection i is replaced `i × this` earlier, so many connections never reconnect at once; default 60 s. */
  connectionAgeSpreadMs?: number;
  /** No frame at all for this long → reconnect; default 60 s. */
  connectionStaleAfterMs?: number;
  connectTimeoutMs?: number;
  /** SUBSCRIBEs not acknowledged in this time are reported `SUBSCRIBE_FAILED`; default 10 s. */
  ackTimeoutMs?: number;
  /** USDⓈ-M `derivative_ticker`: `/fapi/v1/openInterest` polled per symbol this often; default 30 s. */
  openInterestIntervalMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  restWeightPerMinute?: number;
  fetch?: typeof fetch;
  capture?: RawCaptureWriter;
  dedupCapacity?: number;
}

interface Connection {
  readonly index: number;
  readonly path: string;
  readonly streams: readonly string[];
  readonly ws: ReconnectingWebSocket;
  /** Raw symbols whose depth stream this connection carries. */
  readonly books: readonly string[];
  /** SUBSCRIBE ids sent and not acknowledged, with their streams. */
  pending: Map<number, string[]>;
  /** SUBSCRIBE messages not sent yet (paced). */
  queue: string[][];
  subscribed: boolean;
  open: boolean;
  sendTimer: TimerHandle | undefined;
  ackTimer: TimerHandle | undefined;
  /** A `serverShutdown` announced the close that follows. */
  shutdownAnnounced: boolean;
}

/**
 * Binance spot (`binance`) and USDⓈ-M perpetuals (`binance-usdm`): one implementation, two markets.
 * REST `exchangeInfo` resolves and validates the symbols; combined streams spread over several connections
 * (`streamsPerConnection`), subscribed by paced SUBSCRIBE messages (Binance cuts a connection that sends
 * more than 5 (spot) or 10 (futures) messages a second), pings answered by the WebSocket library
 * (RFC 6455 pong with the ping's payload), each connection replaced before Binance's 24 h cut at a
 * staggered age (and at once on `serverShutdown`) as a planned reconnect. `trade` (`@trade` spot,
 * `@aggTrade` futures), `order_book` (`@depth@100ms` + REST snapshot through the order-book engine with
 * Binance's sequencing rules), `ticker` (`@ticker`, plus `@bookTicker` on futures for L1), `ohlcv`
 * (`@kline_<i>`), `derivative_ticker` (`@markPrice@1s` + polled open interest) and `liquidation`
 * (`@forceOrder`). REST goes through the weight limiter; 429 and 418 hold every request for `Retry-After`.
 */
export class BinanceConnector extends Connector {
  readonly kind: BinanceMarketKind;
  readonly #options: BinanceConnectorOptions;
  readonly rest: RestClient;
  #feed: BinanceFeed | undefined;
  #connections: Connection[] = [];
  #books = new Map<string, OrderBookSync>();
  #markets: BinanceMarket[] = [];
  #failedStreams = new Set<string>();
  #init: Promise<void> | undefined;
  #stopping = false;
  #abort = new AbortController();
  #nextId = 1;
  #hadSubscribed = false;
  #oiTimer: TimerHandle | undefined;
  #oiCursor = 0;
  #inFlight = new Set<Promise<unknown>>();

  constructor(options: BinanceConnectorOptions) {
    const defaults = BINANCE_DEFAULTS[options.kind];
    super({ ...options, name: options.name ?? defaults.name });
    this.kind = options.kind;
    this.#options = options;
    this.rest = new RestClient({
      baseUrl: options.restUrl ?? defaults.restUrl,
      weightPerWindow: options.restWeightPerMinute ?? defaults.restWeightPerMinute,
      scheduler: this.scheduler,
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      onRateLimited: (info) => {
        this.metrics.rateLimited(this.name);
        this.emitError(
          "RATE_LIMIT",
          `${this.name} REST answered ${info.status}${info.status === 418 ? " (IP banned)" : ""}; holding requests for ${info.retryAfterMs} ms`,
          { status: info.status, retry_after_ms: info.retryAfterMs, attempt: info.attempt, url: info.url },
        );
      },
    });
  }

  get feed(): BinanceFeed | undefined {
    return this.#feed;
  }

  /** The instruments subscribed. */
  get markets(): readonly BinanceMarket[] {
    return this.#markets;
  }

  /** The WebSocket connections and their streams. */
  get connections(): readonly { path: string; streams: readonly string[]; open: boolean }[] {
    return this.#connections;
  }

  /** The order book of a raw symbol (`BTCUSDT`). */
  book(rawSymbol: string): OrderBookSync | undefined {
    return this.#books.get(rawSymbol);
  }

  /** Resolves once the symbols are resolved and the sockets started (or the start was abandoned). */
  ready(): Promise<void> {
    return this.#init ?? Promise.resolve();
  }

  protected override degradedReason(): string | undefined {
    const reasons: string[] = [];
    if (this.#failedStreams.size > 0)
      reasons.push(`streams not subscribed: ${[...this.#failedStreams].slice(0, 5).join(", ")}`);
    return reasons.length > 0 ? reasons.join("; ") : undefined;
  }

  protected override async onStart(): Promise<void> {
    this.#stopping = false;
    this.#abort = new AbortController();
    this.setState("connecting", { message: "resolving symbols" });
    this.watchFrameAges(() => this.#feed?.lastFrameAt);
    this.#init = this.#initialize().catch((error: unknown) => {
      this.logger.error({ err: error }, `${this.name} connector failed to initialize`);
    });
  }

  protected override async onStop(): Promise<void> {
    this.#stopping = true;
    this.#abort.abort();
    this.wakeSleepers();
    this.scheduler.clearTimeout(this.#oiTimer);
    for (const c of this.#connections) this.#clearConnectionTimers(c);
    await Promise.all(this.#connections.map((c) => c.ws.stop()));
    const inFlight = Promise.allSettled([this.#init, ...this.#inFlight]);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_GRACE_MS);
      timer.unref();
      void inFlight.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    void promise.then(
      () => this.#inFlight.delete(promise),
      () => this.#inFlight.delete(promise),
    );
    return promise;
  }

  #prefix(): string {
    return this.kind === "spot" ? "/api/v3" : "/fapi/v1";
  }

  /** `exchangeInfo`, retried with backoff until it answers or the connector stops. */
  #loadMarkets(): Promise<BinanceMarket[] | undefined> {
    const weight = this.kind === "spot" ? 20 : 1;
    return this.loadUntilStopped(
      "exchangeInfo",
      async () =>
        marketsFromExchangeInfo(
          await this.rest.get(`${this.#prefix()}/exchangeInfo`, weight, this.#abort.signal),
          this.kind,
        ),
      {
        stopping: () => this.#stopping,
        backoff: this.#options.backoff,
        random: this.#options.random,
      },
    );
  }

  async #initialize(): Promise<void> {
    const listed = await this.#loadMarkets();
    if (listed === undefined || this.#stopping) return;
    const symbols = new BinanceSymbols(listed);
    const { markets, unknown } = symbols.resolveAll(this.#options.symbols);
    this.setUnknownSymbols(unknown);
    for (const name of unknown) {
      this.emitError("INVALID_SYMBOL", `${this.name} does not list '${name}' as trading; not subscribed`, {
        symbol: name,
        markets_listed: symbols.size,
      });
    }
    this.#markets = markets;
    this.#options.capture?.writeMarkets(this.name, markets);
    this.#feed = new BinanceFeed({
      source: this.name,
      kind: this.kind,
      markets,
      metrics: this.metrics,
      ...(this.#options.dedupCapacity === undefined ? {} : { dedupCapacity: this.#options.dedupCapacity }),
      hooks: {
        publish: (event) => this.publish(event),
        error: (code, message, details) => this.emitError(code, message, details),
        delta: (raw, delta) => this.#books.get(raw)?.onDelta(delta),
      },
    });
    if (markets.length === 0) {
      this.setState("disconnected", { message: "no valid symbol to subscribe" });
      return;
    }
    const channels = this.#options.channels;
    if (channels.includes("order_book")) for (const market of markets) this.#addBook(market);
    this.#openConnections(markets);
    if (this.kind === "usdm" && channels.includes("derivative_ticker")) this.#scheduleOpenInterest(0);
  }

  #addBook(market: BinanceMarket): void {
    const staleAfterMs = this.#options.bookStaleAfterMs ?? 60_000;
    const book = this.createOrderBook({
      symbol: market.symbol,
      rawSymbol: market.rawSymbol,
      rules: this.kind === "spot" ? binanceSpotRules : binanceUsdmRules,
      depth: this.#options.bookDepth ?? 20,
      intervalMs: this.#options.bookIntervalMs ?? 100,
      fetchSnapshot: () => this.#fetchSnapshot(market),
      ...(staleAfterMs > 0 ? { staleAfterMs } : {}),
      ...(this.#options.backoff === undefined ? {} : { backoff: this.#options.backoff }),
      ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
    });
    this.#books.set(market.rawSymbol, book);
  }

  /**
   * The REST depth snapshot, through the weight limiter. It goes into the capture (and the feed) as a
   * generated `@depthSnapshot` frame, so a replay applies the same snapshot at the same place.
   */
  async #fetchSnapshot(market: BinanceMarket): Promise<BookSnapshot> {
    const limit = this.#options.snapshotLimit ?? 1000;
    const weight =
      this.kind === "spot"
        ? limit <= 100
          ? 5
          : limit <= 500
            ? 25
            : limit <= 1000
              ? 50
              : 250
        : limit <= 50
          ? 2
          : limit <= 100
            ? 5
            : limit <= 500
              ? 10
              : 20;
    const answer = await this.#track(
      this.rest.get(
        `${this.#prefix()}/depth?symbol=${market.rawSymbol}&limit=${limit}`,
        weight,
        this.#abort.signal,
      ),
    );
    const snapshot = parseDepthSnapshot(answer);
    if (typeof snapshot === "string")
      throw new ConnectorError("PARSE_ERROR", `${this.name} depth ${market.rawSymbol}: ${snapshot}`);
    this.#options.capture?.writeFrame(
      this.scheduler.now(),
      JSON.stringify({
        stream: `${market.rawSymbol.toLowerCase()}@depthSnapshot`,
        generated: true,
        data: answer,
      }),
    );
    return snapshot;
  }

  /** The streams of one instrument, in the order subscribed. */
  #streamsOf(market: BinanceMarket): string[] {
    const s = market.rawSymbol.toLowerCase();
    const out: string[] = [];
    for (const channel of this.#options.channels) {
      switch (channel) {
        case "trade":
          // Futures: `@aggTrade` (documented officially and served on /market; `@trade` is neither).
          out.push(this.kind === "spot" ? `${s}@trade` : `${s}@aggTrade`);
          break;
        case "order_book":
          out.push(`${s}@depth@100ms`);
          break;
        case "ticker":
          out.push(`${s}@ticker`);
          if (this.kind === "usdm") out.push(`${s}@bookTicker`);
          break;
        case "ohlcv":
          for (const interval of this.#options.intervals ?? ["1m"]) out.push(`${s}@kline_${interval}`);
          break;
        case "derivative_ticker":
          if (this.kind === "usdm") out.push(`${s}@markPrice@1s`);
          break;
        case "liquidation":
          if (this.kind === "usdm") out.push(`${s}@forceOrder`);
          break;
      }
    }
    return out;
  }

  /** Spot: everything on `/stream`; USDⓈ-M: depth and bookTicker on `/public`, the rest on `/market`. */
  #pathOf(stream: string): string {
    if (this.kind === "spot") return "/stream";
    const suffix = stream.slice(stream.indexOf("@") + 1);
    return suffix.startsWith("depth") || suffix === "bookTicker" ? "/public/stream" : "/market/stream";
  }

  #openConnections(markets: readonly BinanceMarket[]): void {
    const perConnection = Math.max(1, Math.min(1024, this.#options.streamsPerConnection ?? 200));
    const byPath = new Map<string, string[]>();
    for (const market of markets) {
      for (const stream of this.#streamsOf(market)) {
        const path = this.#pathOf(stream);
        const list = byPath.get(path) ?? [];
        list.push(stream);
        byPath.set(path, list);
      }
    }
    const base = (this.#options.wsUrl ?? BINANCE_DEFAULTS[this.kind].wsUrl).replace(/\/+$/, "");
    const maxAge = this.#options.maxConnectionAgeMs ?? 23.5 * 3_600_000;
    const spread = this.#options.connectionAgeSpreadMs ?? 60_000;
    for (const [path, streams] of byPath) {
      for (let i = 0; i < streams.length; i += perConnection) {
        const chunk = streams.slice(i, i + perConnection);
        const index = this.#connections.length;
        const books = chunk
          .filter((s) => s.includes("@depth"))
          .map((s) => s.slice(0, s.indexOf("@")).toUpperCase());
        const connection: Connection = {
          index,
          path,
          streams: chunk,
          books,
          pending: new Map(),
          queue: [],
          subscribed: false,
          open: false,
          sendTimer: undefined,
          ackTimer: undefined,
          shutdownAnnounced: false,
          ws: new ReconnectingWebSocket({
            url: `${base}${path}`,
            scheduler: this.scheduler,
            ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
            ...(this.#options.backoff === undefined ? {} : { backoff: this.#options.backoff }),
            ...(this.#options.connectTimeoutMs === undefined
              ? {}
              : { connectTimeoutMs: this.#options.connectTimeoutMs }),
            staleAfterMs: this.#options.connectionStaleAfterMs ?? 60_000,
            // Staggered: connections opened together are not all replaced (and their books resynced) at once.
            maxConnectionAgeMs: Math.max(60_000, maxAge - index * spread),
            listener: {
              onConnecting: (attempt) => {
                if (this.state !== "subscribed" || attempt > 0)
                  this.setState(
                    this.#hadSubscribed ? "reconnecting" : "connecting",
                    attempt > 0 ? { attempt } : {},
                  );
              },
              onOpen: () => this.#onOpen(connection),
              onMessage: (text, receivedAt) => {
                this.lastMessageAt = receivedAt;
                this.#options.capture?.writeFrame(receivedAt, text);
                this.#handleFrame(connection, text, receivedAt);
              },
              onBinary: (bytes, receivedAt) => {
                this.lastMessageAt = receivedAt;
                this.#feed?.handleBinary(bytes, receivedAt);
              },
              onClose: (info) => this.#onClose(connection, info),
            },
          }),
        };
        this.#connections.push(connection);
      }
    }
    if (this.#stopping) return;
    for (const connection of this.#connections) connection.ws.start();
  }

  /** Control frames (acks, errors, `serverShutdown`) belong to a connection; data goes to the feed. */
  #handleFrame(connection: Connection, text: string, receivedAt: number): void {
    const feed = this.#feed;
    if (feed === undefined) return;
    // Data frames start with `{"stream":`; only the rest need the connection.
    if (text.startsWith('{"stream":"') && !text.startsWith('{"stream":"!')) {
      feed.handleFrame(text, receivedAt);
      return;
    }
    const result = feed.parser.parse(text, receivedAt);
    switch (result.kind) {
      case "ack":
        this.metrics.messageIn(this.name, "control");
        this.#onAck(connection, result.id);
        return;
      case "exchange-error":
        this.metrics.messageIn(this.name, "control");
        this.#onExchangeError(connection, result.id, result.code, result.message);
        return;
      case "shutdown":
        this.metrics.messageIn(this.name, "control");
        connection.shutdownAnnounced = true;
        this.logger.info({ path: connection.path, index: connection.index }, "serverShutdown: reconnecting");
        connection.ws.reconnect("max-age");
        return;
      default:
        feed.handleFrame(text, receivedAt);
    }
  }

  #onOpen(connection: Connection): void {
    connection.open = true;
    connection.subscribed = false;
    connection.shutdownAnnounced = false;
    connection.pending.clear();
    connection.queue = [];
    for (let i = 0; i < connection.streams.length; i += STREAMS_PER_MESSAGE)
      connection.queue.push(connection.streams.slice(i, i + STREAMS_PER_MESSAGE));
    if (this.state !== "subscribed") this.setState("connected");
    this.#sendNextSubscribe(connection);
  }

  /**
   * One SUBSCRIBE now, the next after `1000 / rate` ms: Binance counts every incoming message (pongs
   * too) and cuts a connection past 5 (spot) or 10 (futures) a second, so we stay below.
   */
  #sendNextSubscribe(connection: Connection): void {
    connection.sendTimer = undefined;
    const params = connection.queue.shift();
    if (params === undefined || !connection.open) return;
    const id = this.#nextId++;
    connection.pending.set(id, params);
    connection.ws.send(JSON.stringify({ method: "SUBSCRIBE", params, id }));
    const rate = this.#options.subscribeMessagesPerSecond ?? (this.kind === "spot" ? 3 : 8);
    if (connection.queue.length > 0) {
      connection.sendTimer = this.scheduler.setTimeout(
        () => this.#sendNextSubscribe(connection),
        Math.ceil(1000 / Math.max(0.1, rate)),
      );
    }
    this.scheduler.clearTimeout(connection.ackTimer);
    connection.ackTimer = this.scheduler.setTimeout(
      () => this.#onAckTimeout(connection),
      this.#options.ackTimeoutMs ?? 10_000,
    );
  }

  #onAck(connection: Connection, id: unknown): void {
    if (typeof id !== "number" || !connection.pending.delete(id)) return;
    this.#checkSubscribed(connection);
  }

  #onExchangeError(connection: Connection, id: unknown, code: unknown, message: string): void {
    const streams = typeof id === "number" ? connection.pending.get(id) : undefined;
    if (streams !== undefined) {
      connection.pending.delete(id as number);
      for (const stream of streams) this.#failedStreams.add(stream);
      this.emitError("SUBSCRIBE_FAILED", `${this.name} refused SUBSCRIBE ${String(id)}: ${message}`, {
        code: code as never,
        streams: streams.slice(0, 20).join(","),
      });
      this.#checkSubscribed(connection);
      return;
    }
    this.emitError("EXCHANGE_ERROR", `${this.name}: ${message}`, { code: code as never, id: id as never });
  }

  #onAckTimeout(connection: Connection): void {
    connection.ackTimer = undefined;
    if (connection.pending.size === 0) return;
    for (const [id, streams] of connection.pending) {
      for (const stream of streams) this.#failedStreams.add(stream);
      this.emitError("SUBSCRIBE_FAILED", `${this.name} did not acknowledge SUBSCRIBE ${id}`, {
        streams: streams.slice(0, 20).join(","),
      });
    }
    connection.pending.clear();
    this.#checkSubscribed(connection);
  }

  #checkSubscribed(connection: Connection): void {
    if (connection.pending.size > 0 || connection.queue.length > 0 || connection.subscribed) return;
    connection.subscribed = true;
    this.scheduler.clearTimeout(connection.ackTimer);
    connection.ackTimer = undefined;
    if (this.#connections.every((c) => c.subscribed)) {
      this.#hadSubscribed = true;
      this.setState("subscribed", { symbols: this.#markets.map((m) => m.symbol) });
    }
  }

  #clearConnectionTimers(connection: Connection): void {
    this.scheduler.clearTimeout(connection.sendTimer);
    this.scheduler.clearTimeout(connection.ackTimer);
    connection.sendTimer = undefined;
    connection.ackTimer = undefined;
  }

  #onClose(connection: Connection, info: WsCloseInfo): void {
    const wasSubscribed = connection.subscribed;
    const wasOpen = connection.open;
    connection.open = false;
    connection.subscribed = false;
    this.#clearConnectionTimers(connection);
    connection.pending.clear();
    connection.queue = [];
    // The books of this connection miss updates from now on: invalid until a fresh snapshot.
    for (const raw of connection.books) this.#books.get(raw)?.onDisconnect();
    if (!info.willReconnect) return;
    // Binance's 24 h cut (announced by serverShutdown) and our own replacement before it are planned.
    const planned = info.cause === "max-age" || connection.shutdownAnnounced;
    if (wasSubscribed) this.metrics.gap(this.name);
    if (wasOpen) {
      this.reconnects += 1;
      this.metrics.reconnect(this.name);
    }
    if (info.cause === "stale") {
      this.setState("stale", { message: `no data on connection ${connection.index} (${connection.path})` });
      this.emitError("STALE", `${this.name}: no data on connection ${connection.index}; reconnecting`, {
        path: connection.path,
      });
    }
    if (planned) {
      this.logger.info(
        { path: connection.path, index: connection.index, cause: info.cause },
        "replacing a connection (24 h limit or server shutdown)",
      );
    } else if (wasOpen) {
      this.emitError(
        "DISCONNECTED",
        `${this.name} connection ${connection.index} lost (${info.cause}, code ${info.code})`,
        {
          code: info.code,
          reason: info.reason,
          cause: info.cause,
          path: connection.path,
          retry_in_ms: info.delayMs,
        },
      );
    } else {
      this.logger.warn(
        { cause: info.cause, code: info.code, err: info.error, path: connection.path },
        `${this.name} connection attempt failed`,
      );
    }
    this.setState("reconnecting", {
      attempt: info.attempt,
      message: `connection ${connection.index}: retry in ${info.delayMs} ms (${info.cause})`,
    });
  }

  /**
   * Open interest is REST only on USDⓈ-M: one symbol per tick, the ticks spread over the interval (weight
   * 1 each, through the limiter). Each answer goes through the feed (and the capture) as a generated
   * `@openInterest` frame; the next `derivative_ticker` of the symbol carries it.
   */
  #scheduleOpenInterest(delayMs: number): void {
    if (this.#stopping) return;
    this.#oiTimer = this.scheduler.setTimeout(() => {
      this.#oiTimer = undefined;
      const market = this.#markets[this.#oiCursor % this.#markets.length];
      this.#oiCursor += 1;
      const interval = this.#options.openInterestIntervalMs ?? 30_000;
      const next = Math.max(50, Math.floor(interval / Math.max(1, this.#markets.length)));
      if (market === undefined) return;
      void this.#track(this.#pollOpenInterest(market)).finally(() => this.#scheduleOpenInterest(next));
    }, delayMs);
  }

  async #pollOpenInterest(market: BinanceMarket): Promise<void> {
    try {
      const answer = await this.rest.get(
        `/fapi/v1/openInterest?symbol=${market.rawSymbol}`,
        1,
        this.#abort.signal,
      );
      if (this.#stopping) return;
      const frame = JSON.stringify({
        stream: `${market.rawSymbol.toLowerCase()}@openInterest`,
        generated: true,
        data: answer,
      });
      const now = this.scheduler.now();
      this.#options.capture?.writeFrame(now, frame);
      this.#feed?.handleFrame(frame, now);
    } catch (error) {
      if (this.#stopping) return;
      this.emitError(
        error instanceof ConnectorError ? error.code : "REST_FAILED",
        `${this.name}: open interest of ${market.rawSymbol}: ${describeError(error)}`,
        { symbol: market.symbol },
      );
    }
  }
}
