import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";

/**
 * A stand-in for Hyperliquid's public market-data API (`wss://…/ws` and `POST /info`), speaking the wire
 * formats of the exchange as documented and as observed: numbers as strings, one subscription per
 * frame with a `subscriptionResponse` ack, `error` frames with a string `data`, a candle frame whose
 * `data` is one object, an application-level `{"method":"ping"}` → `{"channel":"pong"}`, and a server
 * that closes the socket without a word when `l2Book`/`bbo`/`trades` is subscribed for an unknown coin.
 * Tests push market data and inject faults (drop, stall, garbage, binary frames, unknown channels, HTTP 429).
 */

export interface FakeHlLevel {
  px: string;
  sz: string;
  n: number;
}

export interface FakeHlTrade {
  coin: string;
  side: "A" | "B";
  px: string;
  sz: string;
  time: number;
  hash: string;
  tid: number;
  users?: [string, string];
}

export interface FakeHlCandle {
  t: number;
  T: number;
  s: string;
  i: string;
  o: string;
  c: string;
  h: string;
  l: string;
  v: string;
  n: number;
}

export interface FakeHlSpotToken {
  name: string;
  index: number;
  szDecimals?: number;
}

export interface FakeHlSpotPair {
  name: string;
  tokens: [number, number];
  index: number;
}

export interface FakeHyperliquidOptions {
  /** Port to listen on (127.0.0.1); default 0 (a free one). */
  port?: number;
  /** Perpetual coins of `meta`; default BTC, ETH, SOL, kPEPE. */
  perps?: readonly string[];
  /** Spot tokens of `spotMeta`; default USDC(0), PURR(1), HYPE(150). */
  spotTokens?: readonly FakeHlSpotToken[];
  /** Spot pairs of `spotMeta`; default PURR/USDC (index 0) and @107 = HYPE/USDC. */
  spotPairs?: readonly FakeHlSpotPair[];
  /** Trades kept per coin and re-sent as the first `trades` frame after a subscribe; default 30. */
  recentTrades?: number;
}

export interface FakeHlSubscription {
  type: string;
  coin?: string;
  interval?: string;
  [key: string]: unknown;
}

export interface FakeHlRestRequest {
  body: unknown;
  status: number;
}

interface Client {
  socket: WebSocket;
  subscriptions: Map<string, FakeHlSubscription>;
}

const DEFAULT_PERPS = ["BTC", "ETH", "SOL", "kPEPE"];
const DEFAULT_TOKENS: FakeHlSpotToken[] = [
  { name: "USDC", index: 0, szDecimals: 8 },
  { name: "PURR", index: 1, szDecimals: 0 },
  { name: "HYPE", index: 150, szDecimals: 2 },
];
const DEFAULT_PAIRS: FakeHlSpotPair[] = [
  { name: "PURR/USDC", tokens: [1, 0], index: 0 },
  { name: "@107", tokens: [150, 0], index: 107 },
];

/** Channels a subscription of this type is answered on (a spot `activeAssetCtx` comes on its own). */
const SUB_TYPES = new Set(["trades", "l2Book", "candle", "bbo", "activeAssetCtx", "allMids"]);
/** Subscribing these to an unknown coin makes the real server close the socket (code 1006, no frame). */
const CLOSES_ON_UNKNOWN_COIN = new Set(["trades", "l2Book", "bbo", "candle", "activeAssetCtx"]);

function subKey(sub: FakeHlSubscription): string {
  return `${sub.type}|${sub.coin ?? ""}|${sub.interval ?? ""}`;
}

function normalizeSub(sub: FakeHlSubscription): FakeHlSubscription {
  // The real server echoes the subscription with its defaults filled in.
  if (sub.type === "l2Book") return { nSigFigs: null, mantissa: null, ...sub };
  return sub;
}

export class FakeHyperliquidServer {
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #clients = new Set<Client>();
  readonly #perps: Set<string>;
  readonly #tokens: readonly FakeHlSpotToken[];
  #pairs: readonly FakeHlSpotPair[];
  readonly #recentLimit: number;
  readonly #recentTrades = new Map<string, FakeHlTrade[]>();
  readonly #books = new Map<string, { coin: string; time: number; levels: [FakeHlLevel[], FakeHlLevel[]] }>();
  readonly #bbos = new Map<string, unknown>();
  readonly #ctxs = new Map<string, unknown>();
  readonly #candles = new Map<string, FakeHlCandle[]>();
  readonly #restFailures: { status: number; retryAfterS: number | undefined }[] = [];
  #stalled = false;
  #connectionsAccepted = 0;
  #silentOnSubscribe = new Set<string>();
  #port = 0;
  /** Every `POST /info` body received, with the status answered. */
  readonly restRequests: FakeHlRestRequest[] = [];
  /** Every JSON frame received from clients (subscribe, unsubscribe, ping…). */
  readonly received: unknown[] = [];

  private constructor(options: FakeHyperliquidOptions) {
    this.#perps = new Set(options.perps ?? DEFAULT_PERPS);
    this.#tokens = options.spotTokens ?? DEFAULT_TOKENS;
    this.#pairs = options.spotPairs ?? DEFAULT_PAIRS;
    this.#recentLimit = options.recentTrades ?? 30;
    this.#http = createServer((req, res) => this.#onHttp(req, res));
    this.#wss = new WebSocketServer({ noServer: true });
    this.#http.on("upgrade", (req, socket, head) => {
      if (!(req.url ?? "").startsWith("/ws")) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws));
    });
  }

  static async start(options: FakeHyperliquidOptions = {}): Promise<FakeHyperliquidServer> {
    const server = new FakeHyperliquidServer(options);
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

  /** `ws://127.0.0.1:<port>/ws` (HYPERLIQUID_WS_URL). */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.#port}/ws`;
  }

  /** `http://127.0.0.1:<port>` (HYPERLIQUID_REST_URL; the client posts to `/info`). */
  get restUrl(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Sockets open now. */
  get openConnections(): number {
    return this.#clients.size;
  }

  /** Sockets accepted since start. */
  get connectionsAccepted(): number {
    return this.#connectionsAccepted;
  }

  /** The subscriptions of every open socket. */
  subscriptions(): FakeHlSubscription[] {
    return [...this.#clients].flatMap((c) => [...c.subscriptions.values()]);
  }

  hasSubscription(type: string, coin?: string, interval?: string): boolean {
    return this.subscriptions().some(
      (s) =>
        s.type === type &&
        (coin === undefined || s.coin === coin) &&
        (interval === undefined || s.interval === interval),
    );
  }

  // ---- market data -------------------------------------------------------------------------------

  /** Sends a `trades` frame to the subscribers of the coin and remembers the trades for re-subscribes. */
  pushTrades(trades: readonly FakeHlTrade[]): void {
    const byCoin = new Map<string, FakeHlTrade[]>();
    for (const trade of trades) {
      const list = byCoin.get(trade.coin) ?? [];
      list.push(trade);
      byCoin.set(trade.coin, list);
    }
    for (const [coin, list] of byCoin) {
      const recent = [...(this.#recentTrades.get(coin) ?? []), ...list].slice(-this.#recentLimit);
      this.#recentTrades.set(coin, recent);
      this.#broadcast("trades", coin, undefined, { channel: "trades", data: list });
    }
  }

  /** Sends an `l2Book` snapshot (bids best first, asks best first). */
  pushBook(coin: string, bids: readonly FakeHlLevel[], asks: readonly FakeHlLevel[], time: number): void {
    const data = { coin, time, levels: [[...bids], [...asks]] as [FakeHlLevel[], FakeHlLevel[]] };
    this.#books.set(coin, data);
    this.#broadcast("l2Book", coin, undefined, { channel: "l2Book", data });
  }

  /** Sends a `candle` frame (one object as `data`, as the real server does) and stores it for `candleSnapshot`. */
  pushCandle(candle: FakeHlCandle, options: { broadcast?: boolean } = {}): void {
    const key = `${candle.s}|${candle.i}`;
    const list = (this.#candles.get(key) ?? []).filter((c) => c.t !== candle.t);
    list.push(candle);
    list.sort((a, b) => a.t - b.t);
    this.#candles.set(key, list);
    if (options.broadcast ?? true)
      this.#broadcast("candle", candle.s, candle.i, { channel: "candle", data: candle });
  }

  /** Sends a `bbo` frame; a missing side is `null`. */
  pushBbo(coin: string, bid: FakeHlLevel | null, ask: FakeHlLevel | null, time: number): void {
    const data = { coin, time, bbo: [bid, ask] };
    this.#bbos.set(coin, data);
    this.#broadcast("bbo", coin, undefined, { channel: "bbo", data });
  }

  /** Sends an asset context: `activeAssetCtx` for a perp, `activeSpotAssetCtx` for a spot coin. */
  pushAssetCtx(coin: string, ctx: Record<string, unknown>): void {
    const channel = this.#perps.has(coin) ? "activeAssetCtx" : "activeSpotAssetCtx";
    const frame = { channel, data: { coin, ctx } };
    this.#ctxs.set(coin, frame);
    this.#broadcast("activeAssetCtx", coin, undefined, frame);
  }

  /** Sends a text frame as is to every socket (garbage, unknown channels, plain-text greetings). */
  sendRaw(text: string): void {
    if (this.#stalled) return;
    for (const client of this.#clients) client.socket.send(text);
  }

  /** Sends a binary frame to every socket (the real server sends text only). */
  sendBinary(bytes: Uint8Array): void {
    if (this.#stalled) return;
    for (const client of this.#clients) client.socket.send(bytes, { binary: true });
  }

  // ---- faults ------------------------------------------------------------------------------------

  /** Cuts every socket without a close frame (what the real server does at random). */
  dropConnections(): void {
    for (const client of this.#clients) client.socket.terminate();
  }

  /** Stops sending anything (data, acks, pongs) while the sockets stay open, until `resume()`. */
  stall(): void {
    this.#stalled = true;
  }

  resume(): void {
    this.#stalled = false;
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  /** The next `count` `POST /info` requests are answered with `status` (default 429) and `Retry-After`. */
  failRest(count: number, status = 429, retryAfterS?: number): void {
    for (let i = 0; i < count; i += 1) this.#restFailures.push({ status, retryAfterS });
  }

  /** Removes a coin from `meta`/`spotMeta` and from the coins the socket accepts (a delisting). */
  delist(coin: string): void {
    this.#perps.delete(coin);
    this.#pairs = this.#pairs.filter((p) => p.name !== coin);
  }

  /** Subscriptions of this type get no ack (to test subscribe timeouts). */
  withholdAcks(type: string): void {
    this.#silentOnSubscribe.add(type);
  }

  async close(): Promise<void> {
    for (const client of this.#clients) client.socket.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  // ---- WebSocket ---------------------------------------------------------------------------------

  #onConnection(socket: WebSocket): void {
    this.#connectionsAccepted += 1;
    const client: Client = { socket, subscriptions: new Map() };
    this.#clients.add(client);
    socket.on("close", () => this.#clients.delete(client));
    socket.on("error", () => this.#clients.delete(client));
    socket.on("message", (raw, isBinary) => {
      const text = isBinary ? "" : (raw as Buffer).toString("utf8");
      this.#onFrame(client, text);
    });
  }

  #send(client: Client, frame: unknown): void {
    if (this.#stalled) return;
    client.socket.send(JSON.stringify(frame));
  }

  #parseError(client: Client, text: string): void {
    this.#send(client, {
      channel: "error",
      data: `Error parsing JSON into valid websocket request: ${text}`,
    });
  }

  #onFrame(client: Client, text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.#parseError(client, text);
      return;
    }
    this.received.push(message);
    if (typeof message !== "object" || message === null) return this.#parseError(client, text);
    const { method, subscription } = message as { method?: unknown; subscription?: unknown };
    if (method === "ping") return this.#send(client, { channel: "pong" });
    if (method !== "subscribe" && method !== "unsubscribe") return this.#parseError(client, text);
    if (typeof subscription !== "object" || subscription === null) return this.#parseError(client, text);
    const sub = subscription as FakeHlSubscription;
    if (
      typeof sub.type !== "string" ||
      !SUB_TYPES.has(sub.type) ||
      (sub.coin !== undefined && typeof sub.coin !== "string")
    ) {
      return this.#parseError(client, text);
    }
    const normalized = normalizeSub(sub);
    const key = subKey(sub);
    const echo = JSON.stringify(normalized);
    if (method === "unsubscribe") {
      if (!client.subscriptions.delete(key)) {
        this.#send(client, { channel: "error", data: `Already unsubscribed: ${echo}` });
        return;
      }
      this.#send(client, { channel: "subscriptionResponse", data: { method, subscription: normalized } });
      return;
    }
    if (sub.coin !== undefined && CLOSES_ON_UNKNOWN_COIN.has(sub.type) && !this.#knownCoin(sub.coin)) {
      // Measured behaviour of the real server: no error frame, the socket just goes away.
      client.socket.terminate();
      return;
    }
    if (client.subscriptions.has(key)) {
      this.#send(client, { channel: "error", data: `Already subscribed: ${echo}` });
      return;
    }
    client.subscriptions.set(key, normalized);
    if (this.#silentOnSubscribe.has(sub.type)) return;
    this.#send(client, { channel: "subscriptionResponse", data: { method, subscription: normalized } });
    this.#sendSnapshot(client, sub);
  }

  #sendSnapshot(client: Client, sub: FakeHlSubscription): void {
    const coin = sub.coin ?? "";
    switch (sub.type) {
      case "trades": {
        const recent = this.#recentTrades.get(coin);
        if (recent !== undefined && recent.length > 0)
          this.#send(client, { channel: "trades", data: recent });
        return;
      }
      case "l2Book": {
        const book = this.#books.get(coin);
        if (book !== undefined) this.#send(client, { channel: "l2Book", data: book });
        return;
      }
      case "bbo": {
        const bbo = this.#bbos.get(coin);
        if (bbo !== undefined) this.#send(client, { channel: "bbo", data: bbo });
        return;
      }
      case "activeAssetCtx": {
        const frame = this.#ctxs.get(coin);
        if (frame !== undefined) this.#send(client, frame);
        return;
      }
      case "candle": {
        const list = this.#candles.get(`${coin}|${sub.interval ?? ""}`);
        const last = list?.[list.length - 1];
        if (last !== undefined) this.#send(client, { channel: "candle", data: last });
        return;
      }
      default:
        return;
    }
  }

  #broadcast(type: string, coin: string, interval: string | undefined, frame: unknown): void {
    if (this.#stalled) return;
    const text = JSON.stringify(frame);
    for (const client of this.#clients) {
      for (const sub of client.subscriptions.values()) {
        if (sub.type === type && sub.coin === coin && (interval === undefined || sub.interval === interval)) {
          client.socket.send(text);
          break;
        }
      }
    }
  }

  #knownCoin(coin: string): boolean {
    return this.#perps.has(coin) || this.#pairs.some((p) => p.name === coin);
  }

  // ---- REST --------------------------------------------------------------------------------------

  #onHttp(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (req.method !== "POST" || (req.url ?? "").split("?")[0] !== "/info") {
        this.#reply(res, 404, "text/plain", "Not Found", undefined);
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        this.#reply(res, 422, "text/plain", "Failed to deserialize the JSON body into the target type", text);
        return;
      }
      const failure = this.#restFailures.shift();
      if (failure !== undefined) {
        const headers =
          failure.retryAfterS === undefined ? {} : { "Retry-After": String(failure.retryAfterS) };
        this.restRequests.push({ body, status: failure.status });
        res.writeHead(failure.status, { "Content-Type": "application/json", ...headers });
        res.end("null");
        return;
      }
      const answer = this.#info(body);
      if (answer === undefined) {
        this.#reply(res, 422, "text/plain", "Failed to deserialize the JSON body into the target type", body);
        return;
      }
      this.#reply(res, 200, "application/json", JSON.stringify(answer.value), body);
    });
  }

  #reply(res: ServerResponse, status: number, type: string, text: string, body: unknown): void {
    if (body !== undefined) this.restRequests.push({ body, status });
    res.writeHead(status, { "Content-Type": type });
    res.end(text);
  }

  #info(body: unknown): { value: unknown } | undefined {
    if (typeof body !== "object" || body === null) return undefined;
    const request = body as { type?: unknown; coin?: unknown; req?: unknown };
    switch (request.type) {
      case "meta":
        return {
          value: {
            universe: [...this.#perps].map((name) => ({ name, szDecimals: 5, maxLeverage: 50 })),
          },
        };
      case "spotMeta":
        return {
          value: {
            tokens: this.#tokens.map((t) => ({
              name: t.name,
              szDecimals: t.szDecimals ?? 2,
              weiDecimals: 8,
              index: t.index,
              tokenId: `0x${t.index.toString(16).padStart(32, "0")}`,
              isCanonical: true,
              evmContract: null,
              fullName: null,
            })),
            universe: this.#pairs.map((p) => ({ ...p, isCanonical: p.name.includes("/") })),
          },
        };
      case "candleSnapshot": {
        const req = request.req as
          { coin?: unknown; interval?: unknown; startTime?: unknown; endTime?: unknown } | undefined;
        if (
          typeof req?.coin !== "string" ||
          typeof req.interval !== "string" ||
          typeof req.startTime !== "number"
        ) {
          return undefined;
        }
        const end = typeof req.endTime === "number" ? req.endTime : Number.MAX_SAFE_INTEGER;
        const start = req.startTime;
        const list = this.#candles.get(`${req.coin}|${req.interval}`) ?? [];
        return { value: list.filter((c) => c.t >= start && c.t <= end).slice(0, 500) };
      }
      case "l2Book": {
        if (typeof request.coin !== "string") return undefined;
        return { value: this.#books.get(request.coin) ?? null };
      }
      case "recentTrades": {
        if (typeof request.coin !== "string") return undefined;
        return { value: [...(this.#recentTrades.get(request.coin) ?? [])].reverse() };
      }
      case "allMids": {
        const mids: Record<string, string> = {};
        for (const [coin, book] of this.#books) {
          const bid = book.levels[0][0];
          const ask = book.levels[1][0];
          if (bid && ask) mids[coin] = String((Number(bid.px) + Number(ask.px)) / 2);
        }
        return { value: mids };
      }
      default:
        return undefined;
    }
  }
}
