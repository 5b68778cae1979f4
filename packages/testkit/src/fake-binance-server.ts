import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

/**
 * A stand-in for Binance's public market data, spot (`stream.binance.com` + `api.binance.com`) or
 * USDⓈ-M futures (`fstream.binance.com/{public,market}` + `fapi.binance.com`), speaking the documented
 * wire formats (exchanges.md §2, exchanges-derivatives.md §1): combined streams (`/stream`, frames
 * `{"stream":"<name>","data":{…}}`, streams from `?streams=` or `SUBSCRIBE`), `{"result":null,"id":n}`
 * acks and `{"error":{"code","msg"},"id"}` errors, RFC 6455 ping frames, the 5 (spot) / 10 (futures)
 * incoming messages per second limit (exceeded: the socket is cut), 1024 streams per connection, USDⓈ-M's
 * split of streams between `/public` (depth, bookTicker) and `/market` (everything else), prices and
 * quantities as strings, and REST `exchangeInfo`, `depth` (with `X-MBX-USED-WEIGHT-1M`), `openInterest`.
 *
 * It holds a true order book per symbol, moved by `updateBook` (each update gets the next update ids:
 * `U`/`u`, and `pu` on futures), which the REST snapshot reads. Faults are scriptable: a sequence gap
 * (an update applied but never sent), a stale snapshot, dropped sockets, trades re-sent after a
 * reconnect, 429/418 with `Retry-After`, and a forced 24h-style disconnect (`serverShutdown`, then close).
 */

export type FakeBinanceKind = "spot" | "usdm";

export interface FakeBinanceSymbol {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  /** Default `TRADING`. */
  status?: string;
  /** USDⓈ-M only; default `PERPETUAL`. */
  contractType?: string;
}

export interface FakeBinanceOptions {
  kind: FakeBinanceKind;
  port?: number;
  /** Listed instruments; default BTCUSDT, ETHUSDT, BNBBTC (spot) or BTCUSDT, ETHUSDT (usdm). */
  symbols?: readonly FakeBinanceSymbol[];
  /** RFC 6455 ping frames every this many ms; 0 = none (default). */
  pingIntervalMs?: number;
  /** Incoming messages per second before a socket is cut; default 5 (spot) or 10 (usdm). */
  maxMessagesPerSecond?: number;
  /** Streams per connection; default 1024. */
  maxStreamsPerConnection?: number;
  /** Milliseconds now (exchange times); default `Date.now`. */
  now?: () => number;
}

/** `[price, qty]` as decimal text. */
export type FakeBinanceLevel = readonly [string, string];

export interface FakeBinanceTrade {
  /** Trade id (`t` on spot `@trade`, `a` on futures `@aggTrade`). */
  id: number;
  price: string;
  qty: string;
  time: number;
  /** `m`: the buyer is the maker (the taker sold). */
  buyerMaker: boolean;
}

export interface FakeBinanceKline {
  interval: string;
  openTime: number;
  closeTime: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
  trades: number;
  closed: boolean;
}

export interface FakeBinanceRestRequest {
  path: string;
  query: Record<string, string>;
  status: number;
}

interface Client {
  socket: WebSocket;
  route: string;
  streams: Set<string>;
  messageTimes: number[];
  openedAt: number;
}

interface TrueBookState {
  bids: Map<string, string>;
  asks: Map<string, string>;
  lastUpdateId: number;
}

const SPOT_SYMBOLS: FakeBinanceSymbol[] = [
  { symbol: "BTCUSDT", baseAsset: "BTC", quoteAsset: "USDT" },
  { symbol: "ETHUSDT", baseAsset: "ETH", quoteAsset: "USDT" },
  { symbol: "BNBBTC", baseAsset: "BNB", quoteAsset: "BTC" },
];
const USDM_SYMBOLS: FakeBinanceSymbol[] = [
  { symbol: "BTCUSDT", baseAsset: "BTC", quoteAsset: "USDT" },
  { symbol: "ETHUSDT", baseAsset: "ETH", quoteAsset: "USDT" },
];

/** Futures streams served on `/public`; the rest go on `/market` (the 2026 base-URL split). */
function isPublicStream(name: string): boolean {
  const suffix = name.slice(name.indexOf("@") + 1);
  return suffix.startsWith("depth") || suffix === "bookTicker";
}

function sortedSide(side: Map<string, string>, descending: boolean): [string, string][] {
  const levels = [...side.entries()];
  levels.sort((a, b) => (descending ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0])));
  return levels;
}

function isZero(qty: string): boolean {
  return Number(qty) === 0;
}

export class FakeBinanceServer {
  readonly kind: FakeBinanceKind;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #clients = new Set<Client>();
  #symbols: FakeBinanceSymbol[];
  readonly #maxRate: number;
  readonly #maxStreams: number;
  readonly #now: () => number;
  readonly #books = new Map<string, TrueBookState>();
  readonly #staleSnapshots = new Map<string, { count: number; snapshot: unknown }>();
  readonly #recentTrades = new Map<string, FakeBinanceTrade[]>();
  readonly #openInterest = new Map<string, { value: string; time: number }>();
  readonly #restFailures: { status: number; retryAfterS: number | undefined; path: string | undefined }[] =
    [];
  #resendTradesOnSubscribe = 0;
  #pingTimer: NodeJS.Timeout | undefined;
  #connectionsAccepted = 0;
  #usedWeight = 0;
  #port = 0;
  /** Every REST request, with the status answered. */
  readonly restRequests: FakeBinanceRestRequest[] = [];
  /** Every JSON message received from clients, with the route and the receive time. */
  readonly received: { route: string; at: number; message: unknown }[] = [];
  /** Pong frames received (answers to our pings). */
  pongs = 0;
  /** Sockets cut for sending more than the allowed messages per second. */
  rateLimitDisconnects = 0;

  private constructor(options: FakeBinanceOptions) {
    this.kind = options.kind;
    this.#symbols = [...(options.symbols ?? (options.kind === "spot" ? SPOT_SYMBOLS : USDM_SYMBOLS))];
    this.#maxRate = options.maxMessagesPerSecond ?? (options.kind === "spot" ? 5 : 10);
    this.#maxStreams = options.maxStreamsPerConnection ?? 1024;
    this.#now = options.now ?? Date.now;
    this.#http = createServer((req, res) => this.#onHttp(req, res));
    this.#wss = new WebSocketServer({ noServer: true });
    this.#http.on("upgrade", (req, socket, head) => {
      const url = new URL(req.url ?? "/", "http://fake");
      const route = this.#route(url.pathname);
      if (route === undefined) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, route, url));
    });
    if ((options.pingIntervalMs ?? 0) > 0) {
      this.#pingTimer = setInterval(() => {
        for (const client of this.#clients) client.socket.ping(Buffer.from(String(this.#now())));
      }, options.pingIntervalMs);
      this.#pingTimer.unref();
    }
  }

  static async start(options: FakeBinanceOptions): Promise<FakeBinanceServer> {
    const server = new FakeBinanceServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#http.once("error", reject);
      server.#http.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    server.#port = (server.#http.address() as AddressInfo).port;
    return server;
  }

  get port(): number {
    return this.#port;
  }

  /** `ws://127.0.0.1:<port>`: the base (`BINANCE_WS_URL` / `BINANCE_USDM_WS_URL`). */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.#port}`;
  }

  /** `http://127.0.0.1:<port>` (`BINANCE_REST_URL` / `BINANCE_USDM_REST_URL`). */
  get restUrl(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get openConnections(): number {
    return this.#clients.size;
  }

  get connectionsAccepted(): number {
    return this.#connectionsAccepted;
  }

  /** The streams of every open socket, per socket. */
  connections(): { route: string; streams: string[] }[] {
    return [...this.#clients].map((c) => ({ route: c.route, streams: [...c.streams] }));
  }

  /** Every stream some open socket is subscribed to. */
  streams(): string[] {
    return [...this.#clients].flatMap((c) => [...c.streams]);
  }

  hasStream(name: string): boolean {
    return [...this.#clients].some((c) => c.streams.has(name));
  }

  // ---- instruments -----------------------------------------------------------------------------

  /** Marks a symbol `BREAK` (no longer trading) in `exchangeInfo`. */
  halt(symbol: string): void {
    this.#symbols = this.#symbols.map((s) => (s.symbol === symbol ? { ...s, status: "BREAK" } : s));
  }

  // ---- the true book ---------------------------------------------------------------------------

  #book(symbol: string): TrueBookState {
    let book = this.#books.get(symbol);
    if (book === undefined) {
      book = { bids: new Map(), asks: new Map(), lastUpdateId: 1_000 };
      this.#books.set(symbol, book);
    }
    return book;
  }

  /** The true book, best first, zero levels absent: what a correct local book holds. */
  trueBook(
    symbol: string,
    depth = Infinity,
  ): { lastUpdateId: number; bids: [string, string][]; asks: [string, string][] } {
    const book = this.#book(symbol);
    return {
      lastUpdateId: book.lastUpdateId,
      bids: sortedSide(book.bids, true).slice(0, depth),
      asks: sortedSide(book.asks, false).slice(0, depth),
    };
  }

  /**
   * Applies one update to the true book: it takes the update ids `lastUpdateId+1 … lastUpdateId+ids`
   * (`U`…`u`), and is sent as a `depthUpdate` unless `send` is false (a sequence gap: the change is in
   * the book and in later snapshots, but no client ever sees it).
   */
  updateBook(
    symbol: string,
    bids: readonly FakeBinanceLevel[],
    asks: readonly FakeBinanceLevel[],
    options: { ids?: number; send?: boolean; time?: number } = {},
  ): { U: number; u: number } {
    const book = this.#book(symbol);
    const pu = book.lastUpdateId;
    const U = pu + 1;
    const u = pu + Math.max(1, options.ids ?? 1);
    for (const [price, qty] of bids) {
      if (isZero(qty)) book.bids.delete(price);
      else book.bids.set(price, qty);
    }
    for (const [price, qty] of asks) {
      if (isZero(qty)) book.asks.delete(price);
      else book.asks.set(price, qty);
    }
    book.lastUpdateId = u;
    if (options.send ?? true) {
      const time = options.time ?? this.#now();
      const data: Record<string, unknown> = { e: "depthUpdate", E: time };
      if (this.kind === "usdm") data.T = time;
      Object.assign(data, { s: symbol, U, u });
      if (this.kind === "usdm") data.pu = pu;
      data.b = bids.map((l) => [...l]);
      data.a = asks.map((l) => [...l]);
      this.#broadcast(`${symbol.toLowerCase()}@depth@100ms`, data);
    }
    return { U, u };
  }

  /** The next `count` depth snapshots of `symbol` are the book as it is now, however it moves meanwhile. */
  serveStaleSnapshot(symbol: string, count = 1): void {
    this.#staleSnapshots.set(symbol, { count, snapshot: this.#snapshot(symbol, 5000) });
  }

  #snapshot(symbol: string, limit: number): unknown {
    const book = this.trueBook(symbol, limit);
    const answer: Record<string, unknown> = { lastUpdateId: book.lastUpdateId };
    if (this.kind === "usdm") Object.assign(answer, { E: this.#now(), T: this.#now() });
    answer.bids = book.bids;
    answer.asks = book.asks;
    return answer;
  }

  // ---- market data -------------------------------------------------------------------------------

  /** A trade: spot `@trade` (`t`) or futures `@aggTrade` (`a`); kept for `resendTradesOnSubscribe`. */
  pushTrade(symbol: string, trade: FakeBinanceTrade): void {
    const recent = [...(this.#recentTrades.get(symbol) ?? []), trade].slice(-100);
    this.#recentTrades.set(symbol, recent);
    const [stream, data] = this.#tradeFrame(symbol, trade);
    this.#broadcast(stream, data);
  }

  #tradeFrame(symbol: string, t: FakeBinanceTrade): [string, Record<string, unknown>] {
    const lower = symbol.toLowerCase();
    if (this.kind === "spot") {
      return [
        `${lower}@trade`,
        {
          e: "trade",
          E: t.time,
          s: symbol,
          t: t.id,
          p: t.price,
          q: t.qty,
          T: t.time,
          m: t.buyerMaker,
          M: true,
        },
      ];
    }
    return [
      `${lower}@aggTrade`,
      {
        e: "aggTrade",
        E: t.time,
        s: symbol,
        a: t.id,
        p: t.price,
        q: t.qty,
        f: t.id * 3,
        l: t.id * 3 + 2,
        T: t.time,
        m: t.buyerMaker,
      },
    ];
  }

  /** After a (re)subscribe to a trade stream, the last `count` trades are sent again (duplicates). */
  resendTradesOnSubscribe(count: number): void {
    this.#resendTradesOnSubscribe = count;
  }

  /** `@bookTicker`. */
  pushBookTicker(
    symbol: string,
    bid: FakeBinanceLevel,
    ask: FakeBinanceLevel,
    updateId: number,
    time = this.#now(),
  ): void {
    const data: Record<string, unknown> =
      this.kind === "usdm" ? { e: "bookTicker", u: updateId, s: symbol } : { u: updateId, s: symbol };
    Object.assign(data, { b: bid[0], B: bid[1], a: ask[0], A: ask[1] });
    if (this.kind === "usdm") Object.assign(data, { T: time, E: time });
    this.#broadcast(`${symbol.toLowerCase()}@bookTicker`, data);
  }

  /** `@ticker` (`24hrTicker`); spot frames carry the best bid/ask, futures frames do not. */
  pushTicker(
    symbol: string,
    t: {
      last: string;
      volume: string;
      quoteVolume: string;
      open: string;
      high: string;
      low: string;
      time: number;
      bid?: FakeBinanceLevel;
      ask?: FakeBinanceLevel;
    },
  ): void {
    const data: Record<string, unknown> = {
      e: "24hrTicker",
      E: t.time,
      s: symbol,
      p: "0",
      P: "0",
      w: t.last,
    };
    if (this.kind === "spot") data.x = t.open;
    Object.assign(data, { c: t.last, Q: "1" });
    if (this.kind === "spot") {
      const bid = t.bid ?? ["0", "0"];
      const ask = t.ask ?? ["0", "0"];
      Object.assign(data, { b: bid[0], B: bid[1], a: ask[0], A: ask[1] });
    }
    Object.assign(data, {
      o: t.open,
      h: t.high,
      l: t.low,
      v: t.volume,
      q: t.quoteVolume,
      O: t.time - 86_400_000,
      C: t.time,
      F: 0,
      L: 18150,
      n: 18151,
    });
    this.#broadcast(`${symbol.toLowerCase()}@ticker`, data);
  }

  /** `@kline_<interval>`. */
  pushKline(symbol: string, k: FakeBinanceKline, time = this.#now()): void {
    this.#broadcast(`${symbol.toLowerCase()}@kline_${k.interval}`, {
      e: "kline",
      E: time,
      s: symbol,
      k: {
        t: k.openTime,
        T: k.closeTime,
        s: symbol,
        i: k.interval,
        f: 100,
        L: 100 + k.trades,
        o: k.open,
        c: k.close,
        h: k.high,
        l: k.low,
        v: k.volume,
        n: k.trades,
        x: k.closed,
        q: "0",
        V: "0",
        Q: "0",
        B: "0",
      },
    });
  }

  /** `@markPrice@1s` (futures). */
  pushMarkPrice(
    symbol: string,
    m: { mark: string; index: string; funding: string; nextFunding: number; time: number },
  ): void {
    this.#broadcast(`${symbol.toLowerCase()}@markPrice@1s`, {
      e: "markPriceUpdate",
      E: m.time,
      s: symbol,
      p: m.mark,
      i: m.index,
      P: m.index,
      r: m.funding,
      T: m.nextFunding,
    });
  }

  /** `@forceOrder` (futures). */
  pushForceOrder(
    symbol: string,
    o: { side: "BUY" | "SELL"; qty: string; price: string; avgPrice: string; time: number },
  ): void {
    this.#broadcast(`${symbol.toLowerCase()}@forceOrder`, {
      e: "forceOrder",
      E: o.time + 5,
      o: {
        s: symbol,
        S: o.side,
        o: "LIMIT",
        f: "IOC",
        q: o.qty,
        p: o.price,
        ap: o.avgPrice,
        X: "FILLED",
        l: o.qty,
        z: o.qty,
        T: o.time,
      },
    });
  }

  /** What `/fapi/v1/openInterest` answers for `symbol`. */
  setOpenInterest(symbol: string, value: string, time = this.#now()): void {
    this.#openInterest.set(symbol, { value, time });
  }

  /** Sends a text frame as is to every socket. */
  sendRaw(text: string): void {
    for (const client of this.#clients) client.socket.send(text);
  }

  // ---- faults ------------------------------------------------------------------------------------

  /** Cuts every socket without a close frame. */
  dropConnections(): void {
    for (const client of this.#clients) client.socket.terminate();
  }

  /**
   * What Binance does at a connection's 24h mark (or before maintenance): a `serverShutdown` event,
   * then a normal close.
   */
  expireConnections(): void {
    for (const client of this.#clients) {
      client.socket.send(
        JSON.stringify({ stream: "!serverShutdown", data: { e: "serverShutdown", E: this.#now() } }),
      );
      client.socket.close(1000, "connection expired");
    }
  }

  /**
   * The next `count` REST requests (under `path` when given, e.g. `/api/v3/depth`) are answered
   * `status` (429: rate limited, 418: banned) with `Retry-After: retryAfterS` and Binance's `-1003` body.
   */
  failRest(count: number, status = 429, retryAfterS?: number, path?: string): void {
    for (let i = 0; i < count; i += 1) this.#restFailures.push({ status, retryAfterS, path });
  }

  async close(): Promise<void> {
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    for (const client of this.#clients) client.socket.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  // ---- WebSocket ---------------------------------------------------------------------------------

  #route(pathname: string): string | undefined {
    if (this.kind === "spot") return pathname === "/stream" || pathname === "/ws" ? "" : undefined;
    if (pathname === "/public/stream" || pathname === "/public/ws") return "public";
    if (pathname === "/market/stream" || pathname === "/market/ws") return "market";
    return undefined;
  }

  #servesStream(route: string, name: string): boolean {
    if (this.kind === "spot") return true;
    return isPublicStream(name) === (route === "public");
  }

  #onConnection(socket: WebSocket, route: string, url: URL): void {
    this.#connectionsAccepted += 1;
    const client: Client = { socket, route, streams: new Set(), messageTimes: [], openedAt: this.#now() };
    const fromUrl = url.searchParams.get("streams");
    if (fromUrl !== null) for (const name of fromUrl.split("/")) if (name !== "") client.streams.add(name);
    this.#clients.add(client);
    socket.on("close", () => this.#clients.delete(client));
    socket.on("error", () => this.#clients.delete(client));
    socket.on("pong", () => {
      this.pongs += 1;
    });
    socket.on("message", (raw, isBinary) => {
      if (!this.#withinRate(client)) return;
      this.#onFrame(client, isBinary ? "" : (raw as Buffer).toString("utf8"));
    });
  }

  /** Counts a message; false (and the socket cut) past the per-second limit. */
  #withinRate(client: Client): boolean {
    const now = Date.now();
    client.messageTimes = client.messageTimes.filter((t) => now - t < 1_000);
    client.messageTimes.push(now);
    if (client.messageTimes.length > this.#maxRate) {
      this.rateLimitDisconnects += 1;
      client.socket.terminate();
      return false;
    }
    return true;
  }

  #send(client: Client, frame: unknown): void {
    client.socket.send(JSON.stringify(frame));
  }

  #onFrame(client: Client, text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.#send(client, {
        error: { code: 3, msg: "Invalid JSON: expected value at line 1 column 1" },
        id: null,
      });
      return;
    }
    this.received.push({ route: client.route, at: Date.now(), message });
    const { method, params, id } = (message ?? {}) as { method?: unknown; params?: unknown; id?: unknown };
    if (method === "LIST_SUBSCRIPTIONS") return this.#send(client, { result: [...client.streams], id });
    if (method !== "SUBSCRIBE" && method !== "UNSUBSCRIBE") {
      return this.#send(client, {
        error: { code: 2, msg: `Invalid request: unknown variant ${JSON.stringify(method)}` },
        id: id ?? null,
      });
    }
    if (!Array.isArray(params) || !params.every((p) => typeof p === "string"))
      return this.#send(client, { error: { code: 1, msg: "Invalid value type: expected Array" }, id });
    const names = params as string[];
    if (method === "UNSUBSCRIBE") {
      for (const name of names) client.streams.delete(name);
      return this.#send(client, { result: null, id });
    }
    const misrouted = names.find((name) => !this.#servesStream(client.route, name));
    if (misrouted !== undefined)
      return this.#send(client, {
        error: { code: 2, msg: `Invalid request: ${misrouted} is not served on /${client.route}` },
        id,
      });
    if (new Set([...client.streams, ...names]).size > this.#maxStreams)
      return this.#send(client, { error: { code: 4, msg: "Too many subscriptions" }, id });
    for (const name of names) client.streams.add(name);
    this.#send(client, { result: null, id });
    if (this.#resendTradesOnSubscribe > 0) {
      for (const name of names) {
        const suffix = name.slice(name.indexOf("@") + 1);
        if (suffix !== "trade" && suffix !== "aggTrade") continue;
        const symbol = this.#symbols.find((s) => s.symbol.toLowerCase() === name.slice(0, name.indexOf("@")));
        if (symbol === undefined) continue;
        for (const trade of (this.#recentTrades.get(symbol.symbol) ?? []).slice(
          -this.#resendTradesOnSubscribe,
        )) {
          const [stream, data] = this.#tradeFrame(symbol.symbol, trade);
          this.#send(client, { stream, data });
        }
      }
    }
  }

  #broadcast(stream: string, data: unknown): void {
    const text = JSON.stringify({ stream, data });
    for (const client of this.#clients) if (client.streams.has(stream)) client.socket.send(text);
  }

  // ---- REST --------------------------------------------------------------------------------------

  #prefix(): string {
    return this.kind === "spot" ? "/api/v3" : "/fapi/v1";
  }

  #onHttp(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const query = Object.fromEntries(url.searchParams.entries());
    const path = url.pathname;
    const failureIndex = this.#restFailures.findIndex((f) => f.path === undefined || f.path === path);
    if (req.method === "GET" && failureIndex >= 0) {
      const failure = this.#restFailures.splice(failureIndex, 1)[0]!;
      this.restRequests.push({ path, query, status: failure.status });
      const headers: Record<string, string> = { "Content-Type": "application/json;charset=UTF-8" };
      if (failure.retryAfterS !== undefined) headers["Retry-After"] = String(failure.retryAfterS);
      res.writeHead(failure.status, headers);
      res.end(
        JSON.stringify(
          failure.status === 418
            ? {
                code: -1003,
                msg: `Way too much request weight used; IP banned until ${this.#now() + (failure.retryAfterS ?? 120) * 1000}. Please use WebSocket Streams for live updates to avoid bans.`,
              }
            : {
                code: -1003,
                msg: "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
              },
        ),
      );
      return;
    }
    const answer = req.method === "GET" ? this.#answer(path, query) : undefined;
    if (answer === undefined) {
      this.#json(res, path, query, 400, 0, { code: -1121, msg: "Invalid symbol." });
      return;
    }
    this.#json(res, path, query, 200, answer.weight, answer.value);
  }

  #json(
    res: ServerResponse,
    path: string,
    query: Record<string, string>,
    status: number,
    weight: number,
    value: unknown,
  ): void {
    this.#usedWeight += weight;
    this.restRequests.push({ path, query, status });
    res.writeHead(status, {
      "Content-Type": "application/json;charset=UTF-8",
      "X-MBX-USED-WEIGHT-1M": String(this.#usedWeight),
    });
    res.end(JSON.stringify(value));
  }

  #answer(path: string, query: Record<string, string>): { value: unknown; weight: number } | undefined {
    const prefix = this.#prefix();
    const listed = (symbol: string | undefined): boolean =>
      symbol !== undefined && this.#symbols.some((s) => s.symbol === symbol);
    switch (path) {
      case `${prefix}/exchangeInfo`:
        return {
          weight: this.kind === "spot" ? 20 : 1,
          value: {
            timezone: "UTC",
            serverTime: this.#now(),
            rateLimits: [
              {
                rateLimitType: "REQUEST_WEIGHT",
                interval: "MINUTE",
                intervalNum: 1,
                limit: this.kind === "spot" ? 6000 : 2400,
              },
            ],
            exchangeFilters: [],
            symbols: this.#symbols.map((s) => ({
              symbol: s.symbol,
              status: s.status ?? "TRADING",
              baseAsset: s.baseAsset,
              quoteAsset: s.quoteAsset,
              ...(this.kind === "usdm" ? { contractType: s.contractType ?? "PERPETUAL" } : {}),
              filters: [
                { filterType: "PRICE_FILTER", tickSize: "0.01" },
                { filterType: "LOT_SIZE", stepSize: "0.00001" },
              ],
            })),
          },
        };
      case `${prefix}/depth`: {
        const symbol = query.symbol;
        if (!listed(symbol)) return undefined;
        const limit = Number(query.limit ?? 100);
        const stale = this.#staleSnapshots.get(symbol!);
        if (stale !== undefined) {
          stale.count -= 1;
          if (stale.count <= 0) this.#staleSnapshots.delete(symbol!);
          return { weight: 5, value: stale.snapshot };
        }
        return {
          weight: limit <= 100 ? 5 : limit <= 500 ? 25 : limit <= 1000 ? 50 : 250,
          value: this.#snapshot(symbol!, limit),
        };
      }
      case "/fapi/v1/openInterest": {
        const symbol = query.symbol;
        if (this.kind !== "usdm" || !listed(symbol)) return undefined;
        const oi = this.#openInterest.get(symbol!) ?? { value: "0", time: this.#now() };
        return { weight: 1, value: { openInterest: oi.value, symbol, time: oi.time } };
      }
      default:
        return undefined;
    }
  }
}
