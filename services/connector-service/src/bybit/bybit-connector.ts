import type { BackoffOptions } from "@market-scraper/bus";
import { ConnectorError } from "../framework/connector-error.js";
import { Connector, type ConnectorOptions } from "../framework/connector.js";
import type { RawCaptureWriter } from "../framework/raw-capture.js";
import { ReconnectingWebSocket, type WsCloseInfo } from "../framework/reconnecting-websocket.js";
import { RestClient } from "../framework/rest-client.js";
import type { TimerHandle } from "../framework/scheduler.js";
import { BybitFeed, bybitBookDepth } from "./bybit-feed.js";
import {
  type BybitCategory,
  type BybitInstrument,
  BybitInstruments,
  instrumentsFromAnswer,
} from "./bybit-instruments.js";
import { BYBIT_INTERVALS } from "./bybit-parser.js";
import { bybitRateLimit } from "./bybit-rate-limit.js";

/** Our channel names (`<NAME>_CHANNELS`); the perpetual-only ones are refused on spot. */
export const BYBIT_CHANNELS = [
  "trade",
  "order_book",
  "ticker",
  "ohlcv",
  "liquidation",
  "derivative_ticker",
] as const;
export type BybitChannel = (typeof BYBIT_CHANNELS)[number];
export const BYBIT_SPOT_CHANNELS: readonly BybitChannel[] = ["trade", "order_book", "ticker", "ohlcv"];
export const BYBIT_LINEAR_CHANNELS: readonly BybitChannel[] = BYBIT_CHANNELS;

/** Candle intervals Bybit streams, in our names (`1m` … `1M`). */
export const BYBIT_OHLCV_INTERVALS = Object.keys(BYBIT_INTERVALS) as readonly string[];

export const BYBIT_DEFAULT_WS_URLS: Readonly<Record<BybitCategory, string>> = {
  spot: "wss://stream.bybit.com/v5/public/spot",
  linear: "wss://stream.bybit.com/v5/public/linear",
};
export const BYBIT_DEFAULT_REST_URL = "https://api.bybit.com";

/** Bybit: "Spot can input up to 10 args for each subscription request sent to one connection". */
const ARGS_PER_REQUEST = 10;
/** Bybit: the args of one public connection may not exceed 21,000 characters in all. */
const ARGS_CHARS_PER_CONNECTION = 21_000;
/** Bybit: 600 requests per 5 s per IP. */
const REST_REQUESTS_PER_WINDOW = 600;
const REST_WINDOW_MS = 5_000;
const MAX_INSTRUMENT_PAGES = 100;
const STOP_GRACE_MS = 2_000;

export interface BybitConnectorOptions extends Omit<ConnectorOptions, "name"> {
  /** `bybit-spot` / `bybit-linear` by default. */
  name?: string;
  category: BybitCategory;
  wsUrl?: string;
  restUrl?: string;
  /** Symbols as Bybit names them (`BTCUSDT`) or normalized (`BTC-USDT`). */
  symbols: readonly string[];
  channels: readonly BybitChannel[];
  /** Candle intervals for `ohlcv` (our names); default `1m`. */
  intervals?: readonly string[];
  /** Levels per side published on `order_book`; default 20. */
  bookDepth?: number;
  /** Conflation of `order_book`; default 100 ms; 0 = every update. */
  bookIntervalMs?: number;
  /** A synced book with no update this long is resynced; default 60 s; 0 = never. */
  bookStaleAfterMs?: number;
  /** Topics per WebSocket connection (more go on further connections); default 200. */
  topicsPerConnection?: number;
  /** `{"op":"ping"}` interval; Bybit recommends 20 s. */
  pingIntervalMs?: number;
  /** No frame at all (pongs included) for this long → reconnect. Default 60 s. */
  connectionStaleAfterMs?: number;
  connectTimeoutMs?: number;
  /** Subscriptions not acknowledged in this time are reported `SUBSCRIBE_FAILED`. Default 10 s. */
  ackTimeoutMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  fetch?: typeof fetch;
  capture?: RawCaptureWriter;
  dedupCapacity?: number;
}

interface Topic {
  readonly name: string;
  readonly instrument: BybitInstrument;
}

/** One WebSocket of the connector and the topics it carries. */
interface Connection {
  readonly index: number;
  readonly ws: ReconnectingWebSocket;
  readonly topics: Topic[];
  /** Subscribe requests (`req_id` → topics) sent on the current socket and not answered yet. */
  pending: Map<string, readonly string[]>;
  subscribed: boolean;
  ackTimer: TimerHandle | undefined;
}

/** The `<NAME>` prefix of a connector's variables: `bybit-linear` → `BYBIT_LINEAR`. */
export function envPrefix(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]+/g, "_");
}

/**
 * Bybit v5 public market data for one category (`spot` → `bybit-spot`, `linear` → `bybit-linear`):
 * `publicTrade` → `trade`, `orderbook.<50|200|1000>` → `order_book` (local book per symbol, see
 * `BybitFeed`), `tickers` → `ticker` (spot: best bid/ask from `orderbook.1`) and on linear
 * `derivative_ticker`, `kline` → `ohlcv`, `allLiquidation` → `liquidation`. Symbols are resolved and
 * validated against `/v5/market/instruments-info` (every page; only `Trading` instruments); an unknown
 * one is never subscribed (Bybit can stall the other topics of the connection). Topics are spread over
 * connections (`topicsPerConnection`, Bybit's 21,000-character args limit) and subscribed 10 args per
 * request; each connection pings every 20 s, reconnects with backoff and jitter and re-subscribes.
 */
export class BybitConnector extends Connector {
  readonly #options: BybitConnectorOptions;
  readonly category: BybitCategory;
  readonly rest: RestClient;
  #feed: BybitFeed | undefined;
  #connections: Connection[] = [];
  #connectionOf = new Map<string, Connection>();
  #init: Promise<void> | undefined;
  #failedTopics = new Set<string>();
  #hadSubscribed = false;
  #stopping = false;
  #abort = new AbortController();
  #requests = 0;

  constructor(options: BybitConnectorOptions) {
    super({ ...options, name: options.name ?? `bybit-${options.category}` });
    this.#options = options;
    this.category = options.category;
    this.rest = new RestClient({
      baseUrl: options.restUrl ?? BYBIT_DEFAULT_REST_URL,
      weightPerWindow: REST_REQUESTS_PER_WINDOW,
      windowMs: REST_WINDOW_MS,
      scheduler: this.scheduler,
      rateLimitOf: bybitRateLimit,
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      onRateLimited: (info) => {
        this.metrics.rateLimited(this.name);
        this.emitError(
          "RATE_LIMIT",
          `${this.name} REST answered ${info.status} (rate limited); holding requests for ${info.retryAfterMs} ms`,
          { status: info.status, retry_after_ms: info.retryAfterMs, attempt: info.attempt, url: info.url },
        );
      },
    });
  }

  get feed(): BybitFeed | undefined {
    return this.#feed;
  }

  /** The connector's WebSocket connections (one per `topicsPerConnection` topics). */
  get sockets(): readonly ReconnectingWebSocket[] {
    return this.#connections.map((c) => c.ws);
  }

  /** Resolves once the instruments are resolved and the sockets started (or the start was abandoned). */
  ready(): Promise<void> {
    return this.#init ?? Promise.resolve();
  }

  protected override degradedReason(): string | undefined {
    const reasons: string[] = [];
    if (this.#failedTopics.size > 0) reasons.push(`topics refused: ${[...this.#failedTopics].join(", ")}`);
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
    for (const connection of this.#connections) this.scheduler.clearTimeout(connection.ackTimer);
    await Promise.all(this.#connections.map((c) => c.ws.stop()));
    this.#feed?.close();
    const init = this.#init ?? Promise.resolve();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STOP_GRACE_MS);
      timer.unref();
      void init.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Every page of `instruments-info` for the category. */
  async #fetchInstruments(): Promise<BybitInstrument[]> {
    const all: BybitInstrument[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_INSTRUMENT_PAGES; page += 1) {
      const query = new URLSearchParams({ category: this.category, limit: "1000" });
      if (cursor !== undefined) query.set("cursor", cursor);
      const answer = await this.rest.get(
        `/v5/market/instruments-info?${query.toString()}`,
        1,
        this.#abort.signal,
      );
      const { instruments, nextPageCursor, skipped } = instrumentsFromAnswer(answer, this.category);
      if (skipped > 0) {
        this.metrics.parseError(this.name, "instruments-info");
        this.logger.warn({ skipped }, "instruments-info entries without symbol/baseCoin/quoteCoin skipped");
      }
      all.push(...instruments);
      if (nextPageCursor === "" || nextPageCursor === cursor) return all;
      cursor = nextPageCursor;
    }
    throw new ConnectorError("PARSE_ERROR", `instruments-info: more than ${MAX_INSTRUMENT_PAGES} pages`);
  }

  #loadInstruments(): Promise<BybitInstrument[] | undefined> {
    return this.loadUntilStopped("instruments-info", () => this.#fetchInstruments(), {
      stopping: () => this.#stopping,
      backoff: this.#options.backoff,
      random: this.#options.random,
    });
  }

  async #initialize(): Promise<void> {
    const listed = await this.#loadInstruments();
    if (listed === undefined || this.#stopping) return;
    const registry = new BybitInstruments(listed);
    const { instruments, unknown } = registry.resolveAll(this.#options.symbols);
    this.setUnknownSymbols(unknown);
    const variable = `${envPrefix(this.name)}_SYMBOLS`;
    for (const name of unknown) {
      this.emitError(
        "INVALID_SYMBOL",
        `${variable}: ${this.name} does not list '${name}' (${registry.size} instruments trading); not subscribed`,
        { symbol: name, variable, instruments_listed: registry.size },
      );
    }
    this.#options.capture?.writeMarkets(this.name, instruments);
    const channels = new Set(this.#options.channels);
    const depth = this.#options.bookDepth ?? 20;
    this.#feed = new BybitFeed({
      source: this.name,
      category: this.category,
      instruments,
      metrics: this.metrics,
      emit: channels,
      ...(this.#options.dedupCapacity === undefined ? {} : { dedupCapacity: this.#options.dedupCapacity }),
      ...(channels.has("order_book")
        ? {
            books: {
              rawSymbols: instruments.map((i) => i.rawSymbol),
              depth,
              intervalMs: this.#options.bookIntervalMs ?? 100,
              staleAfterMs: this.#options.bookStaleAfterMs ?? 60_000,
              create: (options) => this.createOrderBook(options),
            },
          }
        : {}),
      hooks: {
        publish: (event) => this.publish(event),
        error: (code, message, details) => this.emitError(code, message, details),
        onAck: (op, success, reqId, message) => this.#onAck(op, success, reqId, message),
        onPong: (at) => {
          const sent = this.#connections[0]?.ws.lastKeepaliveAt;
          if (sent !== undefined && at >= sent) this.latencyMs = at - sent;
        },
        requestSnapshot: (raw) => this.#resubscribeBook(raw),
      },
    });
    const topics = this.#topics(instruments, channels, bybitBookDepth(depth));
    if (topics.length === 0) {
      this.setState("disconnected", { message: "no valid symbol to subscribe" });
      return;
    }
    for (const group of spreadTopics(topics, this.#options.topicsPerConnection ?? 200))
      this.#connections.push(this.#connection(this.#connections.length, group));
    this.logger.info(
      { topics: topics.length, connections: this.#connections.length },
      `${this.name}: topics spread over connections`,
    );
    if (this.#stopping) return;
    for (const connection of this.#connections) connection.ws.start();
  }

  #topics(
    instruments: readonly BybitInstrument[],
    channels: ReadonlySet<BybitChannel>,
    bookLevel: number,
  ): Topic[] {
    const out: Topic[] = [];
    for (const instrument of instruments) {
      const names = new Set<string>();
      const raw = instrument.rawSymbol;
      if (channels.has("trade")) names.add(`publicTrade.${raw}`);
      if (channels.has("order_book")) names.add(`orderbook.${bookLevel}.${raw}`);
      if (channels.has("ticker")) {
        names.add(`tickers.${raw}`);
        // Spot tickers carry no best bid/ask: `orderbook.1` has them.
        if (this.category === "spot") names.add(`orderbook.1.${raw}`);
      }
      if (channels.has("ohlcv"))
        for (const interval of this.#options.intervals ?? ["1m"]) {
          const bybit = BYBIT_INTERVALS[interval];
          if (bybit !== undefined) names.add(`kline.${bybit}.${raw}`);
        }
      if (this.category === "linear") {
        if (channels.has("derivative_ticker")) names.add(`tickers.${raw}`);
        if (channels.has("liquidation")) names.add(`allLiquidation.${raw}`);
      }
      for (const name of names) out.push({ name, instrument });
    }
    return out;
  }

  #connection(index: number, topics: Topic[]): Connection {
    const ws = new ReconnectingWebSocket({
      url: this.#options.wsUrl ?? BYBIT_DEFAULT_WS_URLS[this.category],
      scheduler: this.scheduler,
      ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
      ...(this.#options.backoff === undefined ? {} : { backoff: this.#options.backoff }),
      ...(this.#options.connectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: this.#options.connectTimeoutMs }),
      keepalive: { intervalMs: this.#options.pingIntervalMs ?? 20_000, message: '{"op":"ping"}' },
      staleAfterMs: this.#options.connectionStaleAfterMs ?? 60_000,
      listener: {
        onConnecting: (attempt) => {
          if (this.state !== "subscribed") this.setState("connecting", attempt > 0 ? { attempt } : {});
        },
        onOpen: () => this.#onOpen(connection),
        onMessage: (text, receivedAt) => {
          this.lastMessageAt = receivedAt;
          this.#options.capture?.writeFrame(receivedAt, text);
          this.#feed?.handleFrame(text, receivedAt);
        },
        onBinary: (bytes, receivedAt) => {
          this.lastMessageAt = receivedAt;
          this.#feed?.handleBinary(bytes, receivedAt);
        },
        onClose: (info) => this.#onClose(connection, info),
      },
    });
    const connection: Connection = {
      index,
      ws,
      topics,
      pending: new Map(),
      subscribed: false,
      ackTimer: undefined,
    };
    // 10 args per subscribe request; each request is re-sent on every new socket.
    for (let i = 0; i < topics.length; i += ARGS_PER_REQUEST) {
      const args = topics.slice(i, i + ARGS_PER_REQUEST).map((t) => t.name);
      const reqId = `${index}-${i / ARGS_PER_REQUEST}`;
      ws.subscribe(reqId, JSON.stringify({ req_id: reqId, op: "subscribe", args }));
    }
    for (const topic of topics) this.#connectionOf.set(topic.name, connection);
    return connection;
  }

  #onOpen(connection: Connection): void {
    if (!this.#hadSubscribed || this.state !== "subscribed") this.setState("connected");
    connection.subscribed = false;
    connection.pending = new Map();
    for (let i = 0; i < connection.topics.length; i += ARGS_PER_REQUEST) {
      const args = connection.topics.slice(i, i + ARGS_PER_REQUEST).map((t) => t.name);
      connection.pending.set(`${connection.index}-${i / ARGS_PER_REQUEST}`, args);
    }
    this.scheduler.clearTimeout(connection.ackTimer);
    connection.ackTimer = this.scheduler.setTimeout(
      () => this.#onAckTimeout(connection),
      this.#options.ackTimeoutMs ?? 10_000,
    );
  }

  #onAck(op: "subscribe" | "unsubscribe", success: boolean, reqId: string, message: string): void {
    if (reqId.startsWith("resync-")) {
      if (!success)
        this.emitError("SUBSCRIBE_FAILED", `${this.name} refused the resync ${op} ${reqId}: ${message}`, {
          req_id: reqId,
        });
      return;
    }
    if (op !== "subscribe") return;
    // Linear acks may come without our req_id: take the oldest request still open.
    let connection: Connection | undefined;
    let key = reqId;
    if (reqId !== "") connection = this.#connections[Number(reqId.split("-")[0])];
    else {
      connection = this.#connections.find((c) => c.pending.size > 0);
      key = connection?.pending.keys().next().value ?? "";
    }
    const args = connection?.pending.get(key);
    if (connection === undefined || args === undefined) return;
    connection.pending.delete(key);
    if (!success) {
      // `error:handler not found,topic:publicTrade.X` / `Invalid symbol :[tickers.X]`: name the topic if said.
      const named = args.filter((topic) => message.includes(topic));
      for (const topic of named.length > 0 ? named : args) {
        this.#failedTopics.add(topic);
        this.emitError("SUBSCRIBE_FAILED", `${this.name} refused ${topic}: ${message}`, { topic });
      }
    }
    if (connection.pending.size === 0) this.#connectionSubscribed(connection);
  }

  #onAckTimeout(connection: Connection): void {
    connection.ackTimer = undefined;
    if (connection.pending.size === 0) return;
    for (const [reqId, args] of connection.pending) {
      for (const topic of args) this.#failedTopics.add(topic);
      this.emitError("SUBSCRIBE_FAILED", `${this.name} did not acknowledge ${args.join(", ")}`, {
        req_id: reqId,
        topics: [...args],
      });
    }
    connection.pending.clear();
    this.#connectionSubscribed(connection);
  }

  #connectionSubscribed(connection: Connection): void {
    this.scheduler.clearTimeout(connection.ackTimer);
    connection.ackTimer = undefined;
    connection.subscribed = true;
    if (!this.#connections.every((c) => c.subscribed)) return;
    this.#hadSubscribed = true;
    const symbols = [...new Set(this.#connections.flatMap((c) => c.topics.map((t) => t.instrument.symbol)))];
    this.setState("subscribed", { symbols });
  }

  /** Bybit pushes a fresh snapshot on every subscribe: resubscribing the book's topic resyncs it. */
  #resubscribeBook(rawSymbol: string): void {
    const depth = bybitBookDepth(this.#options.bookDepth ?? 20);
    const topic = `orderbook.${depth}.${rawSymbol}`;
    const connection = this.#connectionOf.get(topic);
    // Not connected: the reconnect subscribes again, and the snapshot comes with it.
    if (connection === undefined || !connection.ws.isOpen) return;
    this.#requests += 1;
    connection.ws.send(
      JSON.stringify({ req_id: `resync-u${this.#requests}`, op: "unsubscribe", args: [topic] }),
    );
    connection.ws.send(
      JSON.stringify({ req_id: `resync-s${this.#requests}`, op: "subscribe", args: [topic] }),
    );
  }

  #onClose(connection: Connection, info: WsCloseInfo): void {
    this.scheduler.clearTimeout(connection.ackTimer);
    connection.ackTimer = undefined;
    const wasSubscribed = connection.subscribed;
    connection.subscribed = false;
    connection.pending = new Map();
    if (!info.willReconnect) return;
    this.#feed?.disconnected(new Set(connection.topics.map((t) => t.instrument.rawSymbol)));
    if (wasSubscribed) {
      this.metrics.gap(this.name);
      this.reconnects += 1;
      this.metrics.reconnect(this.name);
    }
    const which = `connection ${connection.index}`;
    if (info.cause === "stale") {
      this.setState("stale", { message: `no data on ${which}` });
      this.emitError("STALE", `${this.name}: no data on ${which}; reconnecting`, {
        connection: connection.index,
      });
    }
    if (wasSubscribed) {
      this.emitError("DISCONNECTED", `${this.name} ${which} lost (${info.cause}, code ${info.code})`, {
        connection: connection.index,
        code: info.code,
        reason: info.reason,
        cause: info.cause,
        retry_in_ms: info.delayMs,
      });
    } else {
      this.logger.warn(
        { cause: info.cause, code: info.code, err: info.error, connection: connection.index },
        `${this.name} connection attempt failed`,
      );
    }
    this.setState("reconnecting", {
      attempt: info.attempt,
      message: `${which}: retry in ${info.delayMs} ms (${info.cause})`,
    });
  }
}

/**
 * Topics → connections: a symbol's topics stay together, at most `perConnection` topics and Bybit's
 * 21,000 characters of args per connection.
 */
export function spreadTopics<T extends { name: string; instrument: { rawSymbol: string } }>(
  topics: readonly T[],
  perConnection: number,
): T[][] {
  const bySymbol = new Map<string, T[]>();
  for (const topic of topics) {
    const list = bySymbol.get(topic.instrument.rawSymbol) ?? [];
    list.push(topic);
    bySymbol.set(topic.instrument.rawSymbol, list);
  }
  const groups: T[][] = [];
  let current: T[] = [];
  let chars = 0;
  for (const list of bySymbol.values()) {
    const size = list.reduce((sum, t) => sum + t.name.length + 3, 0);
    if (
      current.length > 0 &&
      (current.length + list.length > perConnection || chars + size > ARGS_CHARS_PER_CONNECTION)
    ) {
      groups.push(current);
      current = [];
      chars = 0;
    }
    current.push(...list);
    chars += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
