import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

/**
 * A stand-in for Bybit's v5 public market data (exchanges.md §5, exchanges-derivatives.md §2):
 * WebSocket `/v5/public/spot` and `/v5/public/linear` (`{"op":"subscribe","args":[…],"req_id"}` acks in
 * each category's shape, spot's 10-args limit, `error:handler not found` for unknown topics,
 * `{"op":"ping"}` → pong) and REST `GET /v5/market/instruments-info` (paged with `nextPageCursor`).
 * It holds the true order book of every symbol: `updateBook` changes it and sends the `delta` (`u` + 1);
 * a subscribe gets a `snapshot` of it. Faults: a skipped update (sequence gap), a stale or out-of-order
 * snapshot, a book reset (`u` = 1), dropped sockets, a forced disconnect, trades re-sent after a
 * reconnect, rate-limited REST answers (HTTP 429, 403 "access too frequent", `retCode` 10006).
 */

export type FakeBybitCategory = "spot" | "linear";
export type FakeBybitLevel = readonly [price: string, size: string];

export interface FakeBybitInstrument {
  symbol: string;
  baseCoin: string;
  quoteCoin: string;
  /** Default `Trading`. */
  status?: string;
  /** Linear: `LinearPerpetual` (default) or `LinearFutures`. */
  contractType?: string;
  deliveryTime?: string;
}

export interface FakeBybitTrade {
  T: number;
  s: string;
  S: "Buy" | "Sell";
  v: string;
  p: string;
  i: string;
  BT?: boolean;
  L?: string;
  seq?: number;
}

export interface FakeBybitKline {
  start: number;
  end: number;
  interval: string;
  open: string;
  close: string;
  high: string;
  low: string;
  volume: string;
  turnover: string;
  confirm: boolean;
  timestamp: number;
}

export interface FakeBybitLiquidation {
  T: number;
  s: string;
  S: "Buy" | "Sell";
  v: string;
  p: string;
}

export interface FakeBybitOptions {
  port?: number;
  /** Instruments per category; defaults: spot BTCUSDT, ETHUSDT, SOLUSDT; linear BTCUSDT, ETHUSDT, SOLUSDT. */
  instruments?: Partial<Record<FakeBybitCategory, readonly FakeBybitInstrument[]>>;
  /** Instruments per `instruments-info` page (the real default is 500); default 500. */
  pageSize?: number;
  /** Book states kept per symbol for `sendStaleSnapshot`; default 50. */
  history?: number;
}

export type FakeBybitRestFailure = "429" | "403" | "10006";

export interface FakeBybitRestRequest {
  path: string;
  query: Record<string, string>;
  status: number;
  /** `retCode` of the answer, when JSON. */
  retCode?: number;
}

interface Client {
  socket: WebSocket;
  category: FakeBybitCategory;
  topics: Set<string>;
}

interface TrueBook {
  u: number;
  seq: number;
  bids: Map<string, string>;
  asks: Map<string, string>;
}

const DEFAULT_INSTRUMENTS: Record<FakeBybitCategory, FakeBybitInstrument[]> = {
  spot: [
    { symbol: "BTCUSDT", baseCoin: "BTC", quoteCoin: "USDT" },
    { symbol: "ETHUSDT", baseCoin: "ETH", quoteCoin: "USDT" },
    { symbol: "SOLUSDT", baseCoin: "SOL", quoteCoin: "USDT" },
  ],
  linear: [
    { symbol: "BTCUSDT", baseCoin: "BTC", quoteCoin: "USDT" },
    { symbol: "ETHUSDT", baseCoin: "ETH", quoteCoin: "USDT" },
    { symbol: "SOLUSDT", baseCoin: "SOL", quoteCoin: "USDT" },
  ],
};

const BOOK_DEPTHS = new Set(["1", "50", "200", "1000"]);
const KLINE_INTERVALS = new Set(["1", "3", "5", "15", "30", "60", "120", "240", "360", "720", "D", "W", "M"]);

function isZero(size: string): boolean {
  return Number(size) === 0;
}

function sorted(side: Map<string, string>, descending: boolean): FakeBybitLevel[] {
  const levels = [...side.entries()].map(([price, size]) => [price, size] as const);
  levels.sort((a, b) => (descending ? Number(b[0]) - Number(a[0]) : Number(a[0]) - Number(b[0])));
  return levels;
}

export class FakeBybitServer {
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #clients = new Set<Client>();
  readonly #instruments: Record<FakeBybitCategory, FakeBybitInstrument[]>;
  readonly #pageSize: number;
  readonly #historyLimit: number;
  readonly #books = new Map<string, TrueBook>();
  readonly #history = new Map<string, TrueBook[]>();
  readonly #tickers = new Map<string, Record<string, unknown>>();
  readonly #klines = new Map<string, FakeBybitKline>();
  readonly #recentTrades = new Map<string, FakeBybitTrade[]>();
  readonly #restFailures: { kind: FakeBybitRestFailure; retryAfterS: number | undefined }[] = [];
  #resendTrades = 0;
  #skipNext = new Set<string>();
  #stalled = false;
  #connectionsAccepted = 0;
  #connId = 0;
  #port = 0;
  /** Every REST request, with the status (and `retCode`) answered. */
  readonly restRequests: FakeBybitRestRequest[] = [];
  /** Every JSON frame received from clients, with the category of its socket. */
  readonly received: { category: FakeBybitCategory; frame: unknown }[] = [];
  /** Snapshots sent per `category|topic` (on subscribe, resets and faults). */
  readonly snapshotsSent = new Map<string, number>();

  private constructor(options: FakeBybitOptions) {
    this.#instruments = {
      spot: [...(options.instruments?.spot ?? DEFAULT_INSTRUMENTS.spot)],
      linear: [...(options.instruments?.linear ?? DEFAULT_INSTRUMENTS.linear)],
    };
    this.#pageSize = options.pageSize ?? 500;
    this.#historyLimit = options.history ?? 50;
    this.#http = createServer((req, res) => this.#onHttp(req, res));
    this.#wss = new WebSocketServer({ noServer: true });
    this.#http.on("upgrade", (req, socket, head) => {
      const path = (req.url ?? "").split("?")[0];
      const category =
        path === "/v5/public/spot" ? "spot" : path === "/v5/public/linear" ? "linear" : undefined;
      if (category === undefined) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws, category));
    });
  }

  static async start(options: FakeBybitOptions = {}): Promise<FakeBybitServer> {
    const server = new FakeBybitServer(options);
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

  /** `ws://127.0.0.1:<port>/v5/public/<category>` (`BYBIT_SPOT_WS_URL`, `BYBIT_LINEAR_WS_URL`). */
  wsUrl(category: FakeBybitCategory): string {
    return `ws://127.0.0.1:${this.#port}/v5/public/${category}`;
  }

  /** `http://127.0.0.1:<port>` (`BYBIT_*_REST_URL`). */
  get restUrl(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get openConnections(): number {
    return this.#clients.size;
  }

  get connectionsAccepted(): number {
    return this.#connectionsAccepted;
  }

  /** Topics subscribed on the open sockets of a category. */
  topics(category: FakeBybitCategory): string[] {
    return [...this.#clients].filter((c) => c.category === category).flatMap((c) => [...c.topics]);
  }

  /** Topics per open socket of a category. */
  topicsPerConnection(category: FakeBybitCategory): string[][] {
    return [...this.#clients].filter((c) => c.category === category).map((c) => [...c.topics]);
  }

  // ---- market data -------------------------------------------------------------------------------

  /** Sends a `publicTrade` frame and keeps the trades (re-sent after a subscribe with `resendTradesOnSubscribe`). */
  pushTrades(
    category: FakeBybitCategory,
    symbol: string,
    trades: readonly FakeBybitTrade[],
    ts?: number,
  ): void {
    const key = `${category}|${symbol}`;
    this.#recentTrades.set(key, [...(this.#recentTrades.get(key) ?? []), ...trades].slice(-100));
    const topic = `publicTrade.${symbol}`;
    this.#broadcast(category, topic, {
      topic,
      type: "snapshot",
      ts: ts ?? trades[trades.length - 1]?.T ?? 0,
      data: trades,
    });
  }

  /** The true book of a symbol (best first, exact text), its top `depth` levels per side. */
  book(
    category: FakeBybitCategory,
    symbol: string,
    depth = Infinity,
  ): { u: number; bids: FakeBybitLevel[]; asks: FakeBybitLevel[] } {
    const book = this.#book(category, symbol);
    return {
      u: book.u,
      bids: sorted(book.bids, true).slice(0, depth),
      asks: sorted(book.asks, false).slice(0, depth),
    };
  }

  /**
   * Changes the true book (size `"0"` deletes) and sends the `delta` with `u` + 1 to the subscribers of
   * every `orderbook.<depth>` topic of the symbol (a skipped update is applied but not sent).
   */
  updateBook(
    category: FakeBybitCategory,
    symbol: string,
    change: { bids?: readonly FakeBybitLevel[]; asks?: readonly FakeBybitLevel[] },
    ts = Date.now(),
  ): number {
    const book = this.#book(category, symbol);
    this.#remember(category, symbol, book);
    book.u += 1;
    book.seq += 3;
    for (const [price, size] of change.bids ?? []) {
      if (isZero(size)) book.bids.delete(price);
      else book.bids.set(price, size);
    }
    for (const [price, size] of change.asks ?? []) {
      if (isZero(size)) book.asks.delete(price);
      else book.asks.set(price, size);
    }
    const key = `${category}|${symbol}`;
    if (this.#skipNext.delete(key)) return book.u;
    for (const depth of BOOK_DEPTHS) {
      if (depth === "1") continue;
      const topic = `orderbook.${depth}.${symbol}`;
      this.#broadcast(category, topic, {
        topic,
        type: "delta",
        ts,
        data: { s: symbol, b: change.bids ?? [], a: change.asks ?? [], u: book.u, seq: book.seq },
        cts: ts - 2,
      });
    }
    return book.u;
  }

  /** Fault: the next update of the symbol is applied to the true book but never sent (a sequence gap). */
  skipNextUpdate(category: FakeBybitCategory, symbol: string): void {
    this.#skipNext.add(`${category}|${symbol}`);
  }

  /**
   * Fault: sends the subscribers a snapshot of the book as it was `updatesAgo` updates ago (a stale,
   * out-of-order snapshot); the deltas that follow continue from the true book.
   */
  sendStaleSnapshot(category: FakeBybitCategory, symbol: string, updatesAgo = 1): void {
    const history = this.#history.get(`${category}|${symbol}`) ?? [];
    const old = history[history.length - updatesAgo];
    if (old === undefined) throw new Error(`no book ${updatesAgo} updates ago for ${symbol}`);
    this.#sendSnapshots(category, symbol, old);
  }

  /** Fault: the exchange restarts the book: a snapshot with `u` = 1 (deltas continue from 2). */
  resetBook(category: FakeBybitCategory, symbol: string): void {
    const book = this.#book(category, symbol);
    book.u = 1;
    this.#history.delete(`${category}|${symbol}`);
    this.#sendSnapshots(category, symbol, book);
  }

  /** Sets the ticker fields and sends them (`type` `snapshot` replaces, `delta` merges; spot is snapshot only). */
  pushTicker(
    category: FakeBybitCategory,
    symbol: string,
    fields: Record<string, unknown>,
    type: "snapshot" | "delta" = "snapshot",
    ts = Date.now(),
  ): void {
    const key = `${category}|${symbol}`;
    const merged =
      type === "snapshot" ? { symbol, ...fields } : { ...(this.#tickers.get(key) ?? {}), ...fields };
    this.#tickers.set(key, merged);
    const topic = `tickers.${symbol}`;
    this.#broadcast(category, topic, {
      topic,
      type,
      data: { symbol, ...fields },
      cs: 1000 + (ts % 1000),
      ts,
    });
  }

  /** Sends a `kline` frame and keeps it (sent on subscribe). */
  pushKline(category: FakeBybitCategory, symbol: string, kline: FakeBybitKline): void {
    const topic = `kline.${kline.interval}.${symbol}`;
    this.#klines.set(`${category}|${topic}`, kline);
    this.#broadcast(category, topic, { topic, data: [kline], ts: kline.timestamp, type: "snapshot" });
  }

  /** Sends an `allLiquidation` frame. */
  pushLiquidations(symbol: string, items: readonly FakeBybitLiquidation[], ts?: number): void {
    const topic = `allLiquidation.${symbol}`;
    this.#broadcast("linear", topic, { topic, type: "snapshot", ts: ts ?? items[0]?.T ?? 0, data: items });
  }

  /** Sends a text frame as is to every socket of a category. */
  sendRaw(category: FakeBybitCategory, text: string): void {
    if (this.#stalled) return;
    for (const client of this.#clients) if (client.category === category) client.socket.send(text);
  }

  // ---- faults ------------------------------------------------------------------------------------

  /** Cuts every socket without a close frame. */
  dropConnections(): void {
    for (const client of this.#clients) client.socket.terminate();
  }

  /** Closes every socket with a close frame, as the server does when it retires a connection. */
  forceDisconnect(code = 1001, reason = "server maintenance"): void {
    for (const client of this.#clients) client.socket.close(code, reason);
  }

  /** After a subscribe to `publicTrade`, re-send the last `count` trades (duplicates for the client). */
  resendTradesOnSubscribe(count: number): void {
    this.#resendTrades = count;
  }

  stall(): void {
    this.#stalled = true;
  }

  resume(): void {
    this.#stalled = false;
  }

  /** The next `count` REST requests are refused: HTTP 429, 403 "access too frequent", or `retCode` 10006. */
  failRest(count: number, kind: FakeBybitRestFailure = "10006", retryAfterS?: number): void {
    for (let i = 0; i < count; i += 1) this.#restFailures.push({ kind, retryAfterS });
  }

  async close(): Promise<void> {
    for (const client of this.#clients) client.socket.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  // ---- books -------------------------------------------------------------------------------------

  #book(category: FakeBybitCategory, symbol: string): TrueBook {
    const key = `${category}|${symbol}`;
    let book = this.#books.get(key);
    if (book === undefined) {
      book = { u: 1000, seq: 7_961_638_724, bids: new Map(), asks: new Map() };
      this.#books.set(key, book);
    }
    return book;
  }

  #remember(category: FakeBybitCategory, symbol: string, book: TrueBook): void {
    const key = `${category}|${symbol}`;
    const history = this.#history.get(key) ?? [];
    history.push({ u: book.u, seq: book.seq, bids: new Map(book.bids), asks: new Map(book.asks) });
    if (history.length > this.#historyLimit) history.shift();
    this.#history.set(key, history);
  }

  #snapshotFrame(topic: string, symbol: string, depth: number, book: TrueBook, ts: number): unknown {
    return {
      topic,
      type: "snapshot",
      ts,
      data: {
        s: symbol,
        b: sorted(book.bids, true).slice(0, depth),
        a: sorted(book.asks, false).slice(0, depth),
        u: book.u,
        seq: book.seq,
      },
      cts: ts - 2,
    };
  }

  #sendSnapshots(category: FakeBybitCategory, symbol: string, book: TrueBook): void {
    for (const depth of BOOK_DEPTHS) {
      const topic = `orderbook.${depth}.${symbol}`;
      this.#broadcast(category, topic, this.#snapshotFrame(topic, symbol, Number(depth), book, Date.now()));
      this.#countSnapshot(category, topic);
    }
  }

  #countSnapshot(category: FakeBybitCategory, topic: string): void {
    const key = `${category}|${topic}`;
    this.snapshotsSent.set(key, (this.snapshotsSent.get(key) ?? 0) + 1);
  }

  // ---- WebSocket ---------------------------------------------------------------------------------

  #onConnection(socket: WebSocket, category: FakeBybitCategory): void {
    this.#connectionsAccepted += 1;
    const client: Client = { socket, category, topics: new Set() };
    this.#clients.add(client);
    socket.on("close", () => this.#clients.delete(client));
    socket.on("error", () => this.#clients.delete(client));
    socket.on("message", (raw, isBinary) => {
      if (isBinary) return;
      this.#onFrame(client, (raw as Buffer).toString("utf8"));
    });
  }

  #send(client: Client, frame: unknown): void {
    if (this.#stalled) return;
    client.socket.send(JSON.stringify(frame));
  }

  #answer(client: Client, op: string, reqId: string, success: boolean, message: string): void {
    this.#connId += 1;
    const frame: Record<string, unknown> = {
      success,
      ret_msg: message,
      conn_id: `fake-${this.#connId}`,
      req_id: reqId,
      op,
    };
    this.#send(client, frame);
  }

  #onFrame(client: Client, text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.#answer(client, "", "", false, `error:unknown op,msg:${text.slice(0, 50)}`);
      return;
    }
    this.received.push({ category: client.category, frame: message });
    const {
      op,
      args,
      req_id: rawReqId,
    } = (message ?? {}) as { op?: unknown; args?: unknown; req_id?: unknown };
    const reqId = typeof rawReqId === "string" ? rawReqId : "";
    if (op === "ping") {
      // Spot's pong has no req_id; linear's has one (empty unless sent).
      if (client.category === "spot")
        this.#send(client, { success: true, ret_msg: "pong", conn_id: "fake", op: "ping" });
      else this.#answer(client, "ping", reqId, true, "pong");
      return;
    }
    if ((op !== "subscribe" && op !== "unsubscribe") || !Array.isArray(args)) {
      this.#answer(client, typeof op === "string" ? op : "", reqId, false, "error:unknown op");
      return;
    }
    if (client.category === "spot" && args.length > 10) {
      this.#answer(client, op, reqId, false, "args size >10");
      return;
    }
    if (op === "unsubscribe") {
      for (const topic of args) if (typeof topic === "string") client.topics.delete(topic);
      this.#answer(client, op, reqId, true, client.category === "spot" ? "unsubscribe" : "");
      return;
    }
    const bad: unknown = (args as unknown[]).find(
      (topic) => typeof topic !== "string" || !this.#validTopic(client.category, topic),
    );
    const good = args.filter(
      (topic): topic is string => typeof topic === "string" && this.#validTopic(client.category, topic),
    );
    for (const topic of good) client.topics.add(topic);
    if (bad !== undefined)
      this.#answer(
        client,
        op,
        reqId,
        false,
        `error:handler not found,topic:${typeof bad === "string" ? bad : JSON.stringify(bad)}`,
      );
    else this.#answer(client, op, reqId, true, client.category === "spot" ? "subscribe" : "");
    for (const topic of good) this.#afterSubscribe(client, topic);
  }

  #validTopic(category: FakeBybitCategory, topic: string): boolean {
    const parts = topic.split(".");
    const symbol = parts[parts.length - 1] ?? "";
    if (
      !this.#instruments[category].some((i) => i.symbol === symbol && (i.status ?? "Trading") === "Trading")
    )
      return false;
    switch (parts[0]) {
      case "publicTrade":
      case "tickers":
        return parts.length === 2;
      case "allLiquidation":
        return parts.length === 2 && category === "linear";
      case "orderbook":
        return parts.length === 3 && BOOK_DEPTHS.has(parts[1]!);
      case "kline":
        return parts.length === 3 && KLINE_INTERVALS.has(parts[1]!);
      default:
        return false;
    }
  }

  #afterSubscribe(client: Client, topic: string): void {
    const parts = topic.split(".");
    const symbol = parts[parts.length - 1]!;
    const category = client.category;
    switch (parts[0]) {
      case "orderbook": {
        const book = this.#book(category, symbol);
        this.#send(client, this.#snapshotFrame(topic, symbol, Number(parts[1]), book, Date.now()));
        this.#countSnapshot(category, topic);
        return;
      }
      case "tickers": {
        const fields = this.#tickers.get(`${category}|${symbol}`);
        if (fields !== undefined)
          this.#send(client, { topic, type: "snapshot", data: fields, cs: 1, ts: Date.now() });
        return;
      }
      case "kline": {
        const kline = this.#klines.get(`${category}|${topic}`);
        if (kline !== undefined)
          this.#send(client, { topic, data: [kline], ts: kline.timestamp, type: "snapshot" });
        return;
      }
      case "publicTrade": {
        const recent = (this.#recentTrades.get(`${category}|${symbol}`) ?? []).slice(-this.#resendTrades);
        if (this.#resendTrades > 0 && recent.length > 0)
          this.#send(client, { topic, type: "snapshot", ts: recent[recent.length - 1]!.T, data: recent });
        return;
      }
      default:
        return;
    }
  }

  #broadcast(category: FakeBybitCategory, topic: string, frame: unknown): void {
    if (this.#stalled) return;
    const text = JSON.stringify(frame);
    for (const client of this.#clients)
      if (client.category === category && client.topics.has(topic)) client.socket.send(text);
  }

  // ---- REST --------------------------------------------------------------------------------------

  #onHttp(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const query = Object.fromEntries(url.searchParams.entries());
    const record = (status: number, retCode?: number): void => {
      this.restRequests.push({
        path: url.pathname,
        query,
        status,
        ...(retCode === undefined ? {} : { retCode }),
      });
    };
    if (req.method !== "GET" || url.pathname !== "/v5/market/instruments-info") {
      record(404);
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("Not Found");
      return;
    }
    const failure = this.#restFailures.shift();
    const now = Date.now();
    const limitHeaders = (left: number, resetAt: number): Record<string, string> => ({
      "X-Bapi-Limit": "600",
      "X-Bapi-Limit-Status": String(left),
      "X-Bapi-Limit-Reset-Timestamp": String(resetAt),
    });
    if (failure !== undefined) {
      const retry = failure.retryAfterS === undefined ? {} : { "Retry-After": String(failure.retryAfterS) };
      if (failure.kind === "429") {
        record(429);
        res.writeHead(429, { "Content-Type": "application/json", ...retry });
        res.end(JSON.stringify({ retCode: 10006, retMsg: "Too many visits!" }));
      } else if (failure.kind === "403") {
        record(403);
        res.writeHead(403, { "Content-Type": "text/plain", ...retry });
        res.end("403 Forbidden: access too frequent");
      } else {
        record(200, 10006);
        res.writeHead(200, { "Content-Type": "application/json", ...limitHeaders(0, now + 20) });
        res.end(
          JSON.stringify({
            retCode: 10006,
            retMsg: "Too many visits!",
            result: {},
            retExtInfo: {},
            time: now,
          }),
        );
      }
      return;
    }
    const category = query.category;
    if (category !== "spot" && category !== "linear") {
      record(200, 10001);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(
        JSON.stringify({
          retCode: 10001,
          retMsg: "params error: category",
          result: {},
          retExtInfo: {},
          time: now,
        }),
      );
      return;
    }
    const list = this.#instruments[category];
    const offset =
      query.cursor === undefined || query.cursor === "" ? 0 : Number(query.cursor.replace("offset%3D", ""));
    const limit = Math.min(Number(query.limit ?? this.#pageSize) || this.#pageSize, this.#pageSize);
    const page = list.slice(offset, offset + limit);
    const next = offset + limit < list.length ? `offset%3D${offset + limit}` : "";
    record(200, 0);
    res.writeHead(200, { "Content-Type": "application/json", ...limitHeaders(599, now + 1000) });
    res.end(
      JSON.stringify({
        retCode: 0,
        retMsg: "OK",
        result: {
          category,
          list: page.map((i) => this.#instrumentJson(category, i)),
          nextPageCursor: next,
        },
        retExtInfo: {},
        time: now,
      }),
    );
  }

  #instrumentJson(category: FakeBybitCategory, i: FakeBybitInstrument): Record<string, unknown> {
    const common = {
      symbol: i.symbol,
      baseCoin: i.baseCoin,
      quoteCoin: i.quoteCoin,
      status: i.status ?? "Trading",
    };
    if (category === "spot") {
      return {
        ...common,
        innovation: "0",
        marginTrading: "utaOnly",
        lotSizeFilter: {
          basePrecision: "0.000001",
          quotePrecision: "0.00000001",
          minOrderQty: "0.000048",
          maxOrderQty: "71.73956243",
        },
        priceFilter: { tickSize: "0.01" },
      };
    }
    return {
      ...common,
      contractType: i.contractType ?? "LinearPerpetual",
      launchTime: "1585526400000",
      deliveryTime: i.deliveryTime ?? "0",
      priceScale: "2",
      priceFilter: { minPrice: "0.10", maxPrice: "1999999.80", tickSize: "0.10" },
      lotSizeFilter: { maxOrderQty: "1190.000", minOrderQty: "0.001", qtyStep: "0.001" },
      fundingInterval: 480,
      settleCoin: i.quoteCoin,
    };
  }
}
