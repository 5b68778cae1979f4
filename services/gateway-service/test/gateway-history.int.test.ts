import type { NatsEventBus } from "@market-scraper/bus";
import type { StandardEvent } from "@market-scraper/events";
import {
  type NatsServerHandle,
  makeConnectorStatus,
  makeDerivativeTicker,
  makeHeartbeat,
  makeLiquidation,
  makeOhlcv,
  makeOrderBook,
  makeTicker,
  makeTrades,
  startNats,
  waitFor,
} from "@market-scraper/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConnectorsResponse,
  ErrorResponse,
  EventPageResponse,
  EventResponse,
  MarketsResponse,
} from "../src/index.js";
import {
  type RunningGateway,
  type StorageProcess,
  connectPublisher,
  get,
  getJson,
  publishProcessed,
  rawRequest,
  startGateway,
  startStorageProcess,
} from "./helpers.js";

// The gateway (built with its factory) over real NATS and the real storage service (dist/main.js on
// SQLite): what the history endpoints return is what the processors published and storage stored.

const KEY = "history-test-key-1";
const LIMITED_KEY = "limited-test-key-2";
const T0 = Date.parse("2024-01-15T10:30:00.000Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

let nats: NatsServerHandle;
let storage: StorageProcess;
let publisher: NatsEventBus;
let gw: RunningGateway;
let published: StandardEvent[] = [];
const clock = { now: 1_700_000_000_000 };

const btcTrades = makeTrades(10, { source: "hyperliquid", symbol: "BTC-USD", startMs: T0 });
const ethTrades = makeTrades(3, { source: "hyperliquid", symbol: "ETH-USD", startMs: T0 + 500 });
const binanceTrades = makeTrades(2, { source: "binance", symbol: "BTC-USD", startMs: T0 + 250 });
const oldTicker = makeTicker({
  source: "hyperliquid",
  symbol: "BTC-USD",
  timestamp: at(1),
  payload: { price: 100 },
});
const newTicker = makeTicker({
  source: "hyperliquid",
  symbol: "BTC-USD",
  timestamp: at(5),
  payload: { price: 200 },
});
const ethTicker = makeTicker({
  source: "hyperliquid",
  symbol: "ETH-USD",
  timestamp: at(2),
  payload: { price: 3000 },
});
const book = makeOrderBook({
  source: "hyperliquid",
  symbol: "BTC-USD",
  timestamp: at(3),
  payload: { bids: [[49_999.5, 1]], asks: [[50_000.5, 2]] },
});
const candles1m = Array.from({ length: 5 }, (_, i) =>
  makeOhlcv({
    source: "hyperliquid",
    symbol: "BTC-USD",
    timestamp: new Date(T0 + i * 60_000),
    payload: { interval: "1m", close: 50_000 + i },
  }),
);
const candle5m = makeOhlcv({ source: "hyperliquid", symbol: "BTC-USD", payload: { interval: "5m" } });
const statuses = [
  makeConnectorStatus({ source: "hyperliquid", timestamp: at(0), payload: { status: "connecting" } }),
  makeConnectorStatus({
    source: "hyperliquid",
    timestamp: at(4),
    payload: { status: "connected", previous_status: "connecting", message: "all channels up" },
  }),
  // The connector's last error rides in the status payload; the gateway passes it through.
  makeConnectorStatus({
    source: "binance",
    timestamp: at(2),
    payload: {
      status: "disconnected",
      last_error: "resolving symbols: HTTP 451 from the exchange",
      last_error_at: at(1),
    },
  }),
];
const heartbeat = makeHeartbeat({ source: "processor-service", timestamp: at(6) });
// BTC-USDT on Binance spot and on Binance USDⓈ-M perpetuals: two instruments, two books.
const depth = (side: number, best: number) =>
  Array.from({ length: 20 }, (_, i): [number, number] => [best + side * i * 0.01, 0.5 + i]);
const spotBook = makeOrderBook({
  source: "binance",
  symbol: "BTC-USDT",
  timestamp: at(7),
  payload: {
    bid: 42_000,
    ask: 42_000.01,
    bid_volume: 0.5,
    ask_volume: 0.5,
    bids: depth(-1, 42_000),
    asks: depth(1, 42_000.01),
    depth: 20,
    sequence: 160_000_000_001,
    raw_symbol: "BTCUSDT",
  },
});
const olderSpotBook = makeOrderBook({
  source: "binance",
  symbol: "BTC-USDT",
  timestamp: at(6),
  payload: { sequence: 160_000_000_000 },
});
const perpBook = makeOrderBook({
  source: "binance-usdm",
  symbol: "BTC-USDT",
  timestamp: at(6),
  payload: { bid: 42_010, ask: 42_010.1, sequence: 9_000_000 },
});
const perpTicker = makeTicker({ source: "binance-usdm", symbol: "BTC-USDT", timestamp: at(6) });
const liquidations = [7, 8].map((s) =>
  makeLiquidation({ source: "binance-usdm", symbol: "BTC-USDT", timestamp: at(s) }),
);
const funding = makeDerivativeTicker({ source: "binance-usdm", symbol: "BTC-USDT", timestamp: at(8) });

beforeAll(async () => {
  nats = await startNats({ isolated: true });
  publisher = await connectPublisher(nats.url); // creates the streams storage consumes
  storage = await startStorageProcess(nats.url);
  gw = await startGateway(nats.url, {
    config: {
      GATEWAY_API_KEYS: [
        { key: KEY, rateLimit: null },
        { key: LIMITED_KEY, rateLimit: 3 },
      ],
      GATEWAY_CORS_ORIGINS: ["https://app.example"],
      GATEWAY_BODY_LIMIT: 1024,
    },
    clock: () => clock.now,
  });
  published = await publishProcessed(publisher, [
    ...btcTrades,
    ...ethTrades,
    ...binanceTrades,
    oldTicker,
    newTicker,
    ethTicker,
    book,
    ...candles1m,
    candle5m,
    ...statuses,
    heartbeat,
    olderSpotBook,
    spotBook,
    perpBook,
    perpTicker,
    ...liquidations,
    funding,
  ]);
  await waitFor(
    async () => {
      const { body } = await getJson<{ data: unknown[] }>(`${gw.url}/v1/events?limit=1000`, KEY);
      return body.data.length === published.length;
    },
    { timeoutMs: 20_000, message: "storage to hold every published event" },
  );
});

afterAll(async () => {
  await gw?.stop();
  await storage?.stop();
  await publisher?.close();
  await nats?.stop();
});

type Page = { data: StandardEvent[]; next_cursor: string | null };

async function allPages(path: string): Promise<StandardEvent[]> {
  const events: StandardEvent[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const url: string = `${gw.url}${path}${cursor === null ? "" : `${sep}cursor=${encodeURIComponent(cursor)}`}`;
    const { status, body }: { status: number; body: Page } = await getJson<Page>(url, KEY);
    expect(status).toBe(200);
    EventPageResponse.parse(body);
    events.push(...body.data);
    cursor = body.next_cursor;
    if (cursor === null) return events;
  }
  throw new Error("too many pages");
}

const ids = (events: readonly StandardEvent[]) => events.map((e) => e.event_id);

describe("history endpoints", () => {
  it("pages through every stored event with cursors, each once, oldest first", async () => {
    const events = await allPages("/v1/events?limit=4");
    expect(new Set(ids(events))).toEqual(new Set(ids(published)));
    expect(events).toHaveLength(published.length);
    const times = events.map((e) => Date.parse(e.timestamp));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // What comes back is the event as published, processing stamp included.
    const first = events.find((e) => e.event_id === btcTrades[0]!.event_id)!;
    expect(first).toEqual(published.find((e) => e.event_id === first.event_id));
  });

  it("filters by type, symbol, source and a time range (start inclusive, end exclusive)", async () => {
    const trades = await allPages("/v1/events?event_type=trade&symbol=BTC-USD&source=hyperliquid&limit=3");
    expect(ids(trades)).toEqual(ids(btcTrades));

    const range = await allPages(
      `/v1/events?event_type=trade&symbol=BTC-USD&source=hyperliquid&start=${at(2)}&end=${at(5)}`,
    );
    expect(ids(range)).toEqual(ids(btcTrades.slice(2, 5)));

    // An offset is the same instant: 11:30:02+01:00 is 10:30:02Z.
    const offset = await allPages(
      `/v1/events?event_type=trade&symbol=BTC-USD&source=hyperliquid&start=${encodeURIComponent("2024-01-15T11:30:02+01:00")}`,
    );
    expect(ids(offset)).toEqual(ids(btcTrades.slice(2)));

    const desc = await allPages("/v1/events?event_type=connector_status&order=desc");
    expect(ids(desc)).toEqual(ids([statuses[1]!, statuses[2]!, statuses[0]!]));

    const system = await allPages("/v1/events?stage=system&limit=2");
    expect(new Set(ids(system))).toEqual(new Set(ids([...statuses, heartbeat])));
  });

  it("lists markets with their latest ticker", async () => {
    const { status, body } = await getJson(`${gw.url}/v1/markets`, KEY);
    expect(status).toBe(200);
    const markets = MarketsResponse.parse(body);
    const find = (source: string, symbol: string) =>
      markets.data.find((m) => m.source === source && m.symbol === symbol);
    expect(markets.next_cursor).toBeNull();
    expect(find("hyperliquid", "BTC-USD")?.ticker?.event_id).toBe(newTicker.event_id);
    expect(find("hyperliquid", "BTC-USD")?.event_types).toEqual(
      expect.arrayContaining(["trade", "ticker", "order_book", "ohlcv"]),
    );
    expect(find("hyperliquid", "ETH-USD")?.ticker?.event_id).toBe(ethTicker.event_id);
    expect(find("binance", "BTC-USD")?.ticker).toBeNull();

    const only = MarketsResponse.parse((await getJson(`${gw.url}/v1/markets?source=binance`, KEY)).body);
    expect(only.data.map((m) => `${m.source}/${m.symbol}`)).toEqual(["binance/BTC-USD", "binance/BTC-USDT"]);
  });

  it("serves a symbol's trades, candles, latest ticker and order book", async () => {
    expect(ids(await allPages("/v1/markets/BTC-USD/trades?source=hyperliquid&limit=4"))).toEqual(
      ids(btcTrades),
    );
    expect(ids(await allPages("/v1/markets/BTC-USD/trades?source=binance"))).toEqual(ids(binanceTrades));
    // Only processed trades by default: nothing was stored from the market stage.
    expect(await allPages("/v1/markets/BTC-USD/trades?stage=market")).toEqual([]);
    const newestFirst = await getJson<Page>(`${gw.url}/v1/markets/ETH-USD/trades?order=desc&limit=2`, KEY);
    expect(ids(newestFirst.body.data)).toEqual(ids([ethTrades[2]!, ethTrades[1]!]));

    expect(ids(await allPages("/v1/markets/BTC-USD/ohlcv?interval=1m&limit=2"))).toEqual(ids(candles1m));
    expect(ids(await allPages("/v1/markets/BTC-USD/ohlcv"))).toEqual(ids(candles1m)); // 1m by default
    expect(ids(await allPages("/v1/markets/BTC-USD/ohlcv?interval=5m"))).toEqual([candle5m.event_id]);
    expect(
      ids(await allPages(`/v1/markets/BTC-USD/ohlcv?interval=1m&start=${at(60)}&end=${at(180)}`)),
    ).toEqual(ids(candles1m.slice(1, 3)));

    const ticker = await getJson(`${gw.url}/v1/markets/BTC-USD/ticker`, KEY);
    expect(ticker.status).toBe(200);
    expect(EventResponse.parse(ticker.body).data.event_id).toBe(newTicker.event_id);
    const orderbook = await getJson(`${gw.url}/v1/markets/BTC-USD/orderbook?source=hyperliquid`, KEY);
    expect(EventResponse.parse(orderbook.body).data).toMatchObject({
      event_id: book.event_id,
      payload: { bids: [[49_999.5, 1]], asks: [[50_000.5, 2]] },
    });
  });

  it("lists the markets of every source with their kind, and serves each source's book and ticker", async () => {
    const markets = MarketsResponse.parse((await getJson(`${gw.url}/v1/markets`, KEY)).body).data;
    expect(markets.map((m) => [m.source, m.symbol, m.kind])).toEqual([
      ["binance", "BTC-USD", "spot"],
      ["binance", "BTC-USDT", "spot"],
      ["binance-usdm", "BTC-USDT", "perpetual"],
      ["hyperliquid", "BTC-USD", "perpetual"],
      ["hyperliquid", "ETH-USD", "perpetual"],
    ]);
    expect(markets[2]).toMatchObject({
      exchange: "Binance",
      source_display_name: "Binance USDⓈ-M perpetuals",
      event_types: ["derivative_ticker", "liquidation", "order_book", "ticker"],
    });

    const spot = await getJson(`${gw.url}/v1/markets/BTC-USDT/orderbook?source=binance`, KEY);
    expect(spot.status).toBe(200);
    const book = EventResponse.parse(spot.body).data;
    expect(book).toEqual(published.find((e) => e.event_id === spotBook.event_id));
    expect(book.payload).toMatchObject({ depth: 20, sequence: 160_000_000_001 });
    expect((book.payload as { bids: unknown[] }).bids).toHaveLength(20);
    const perp = await getJson(`${gw.url}/v1/markets/BTC-USDT/orderbook?source=binance-usdm`, KEY);
    expect(EventResponse.parse(perp.body).data.event_id).toBe(perpBook.event_id);
    const ticker = await getJson(`${gw.url}/v1/markets/BTC-USDT/ticker?source=binance-usdm`, KEY);
    expect(EventResponse.parse(ticker.body).data.event_id).toBe(perpTicker.event_id);
    const none = await getJson(`${gw.url}/v1/markets/BTC-USDT/ticker?source=binance`, KEY);
    expect(none.status).toBe(404);
  });

  it("stores and serves liquidations and derivative tickers", async () => {
    expect(ids(await allPages("/v1/events?event_type=liquidation"))).toEqual(ids(liquidations));
    expect(
      ids(await allPages("/v1/events?event_type=liquidation&source=binance-usdm&symbol=BTC-USDT&order=desc")),
    ).toEqual(ids([...liquidations].reverse()));
    const tickers = await allPages("/v1/events?event_type=derivative_ticker&symbol=BTC-USDT");
    expect(tickers).toEqual([published.find((e) => e.event_id === funding.event_id)]);
    expect(tickers[0]!.payload).toMatchObject({ funding_rate: 0.0001, open_interest: 12_345.5 });
    expect(await allPages("/v1/events?event_type=liquidation&stage=market")).toEqual([]);
  });

  it("answers 404 for a symbol without ticker or book", async () => {
    for (const path of [
      "/v1/markets/DOGE-USD/ticker",
      "/v1/markets/ETH-USD/orderbook",
      "/v1/markets/BTC-USD/ticker?source=binance",
    ]) {
      const { status, body } = await getJson(`${gw.url}${path}`, KEY);
      expect(status, path).toBe(404);
      expect(ErrorResponse.parse(body).error.code).toBe("NOT_FOUND");
    }
  });

  it("reports each connector's latest status", async () => {
    const { status, body } = await getJson(`${gw.url}/v1/connectors`, KEY);
    expect(status).toBe(200);
    expect(ConnectorsResponse.parse(body).data).toEqual([
      {
        source: "binance",
        connector: "binance",
        status: "disconnected",
        previous_status: "connecting",
        message: null,
        channel: null,
        symbols: ["BTC-USD"],
        last_error: "resolving symbols: HTTP 451 from the exchange",
        last_error_at: at(1),
        timestamp: statuses[2]!.timestamp,
        event_id: statuses[2]!.event_id,
      },
      {
        source: "hyperliquid",
        connector: "hyperliquid",
        status: "connected",
        previous_status: "connecting",
        message: "all channels up",
        channel: null,
        symbols: ["BTC-USD"],
        last_error: null,
        last_error_at: null,
        timestamp: statuses[1]!.timestamp,
        event_id: statuses[1]!.event_id,
      },
    ]);
  });
});

describe("bad input", () => {
  const cases: [string, string][] = [
    ["/v1/events?start=yesterday", "query parameter 'start' must be an ISO-8601 time"],
    ["/v1/events?end=2024-02-30T00:00:00Z", "query parameter 'end' must be an ISO-8601 time"],
    ["/v1/events?start=2024-13-01", "query parameter 'start' must be an ISO-8601 time"],
    [`/v1/events?start=${at(5)}&end=${at(1)}`, "query parameter 'end' must be later than start"],
    ["/v1/events?limit=-5", "query parameter 'limit' must be at least 1"],
    ["/v1/events?limit=0", "query parameter 'limit' must be at least 1"],
    ["/v1/events?limit=1001", "query parameter 'limit' must be at most 1000"],
    ["/v1/events?limit=99999999999999999999", "query parameter 'limit' must be at most 1000"],
    ["/v1/events?limit=ten", "query parameter 'limit' must be an integer"],
    ["/v1/events?limit=1.5", "query parameter 'limit' must be an integer"],
    ["/v1/events?limit=1&limit=2", "query parameter 'limit' is given more than once"],
    ["/v1/events?evnt_type=trade", "unknown query parameter 'evnt_type'"],
    ["/v1/events?api_key=x", "unknown query parameter 'api_key'"],
    ["/v1/events?event_type=candle", "query parameter 'event_type' must be one of trade"],
    ["/v1/events?order=sideways", "query parameter 'order' must be one of asc, desc"],
    ["/v1/events?cursor=not-a-cursor", "cursor"],
    ["/v1/events?source=", "query parameter 'source' must not be empty"],
    ["/v1/markets/BTC-USD/ohlcv?interval=1x", "query parameter 'interval'"],
    ["/v1/markets/BTC-USD/trades?stage=system", "query parameter 'stage' must be one of market, processed"],
    [`/v1/markets/${"X".repeat(129)}/trades`, "path parameter 'symbol' must be at most 128 characters"],
  ];

  it.each(cases)("GET %s → 400 naming the parameter", async (path, message) => {
    const { status, body } = await getJson(`${gw.url}${path}`, KEY);
    expect(status).toBe(400);
    const error = ErrorResponse.parse(body).error;
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toContain(message);
  });

  it("refuses an oversize body with 413 before reading it", async () => {
    const big = JSON.stringify({ filler: "x".repeat(4096) });
    for (const [method, path] of [
      ["POST", "/v1/events"],
      ["GET", "/v1/events"],
      ["PUT", "/anything"],
    ] as const) {
      const { status, body } = await rawRequest(`${gw.url}${path}`, method, big, {
        authorization: `Bearer ${KEY}`,
        "content-type": "application/json",
      });
      expect(status, `${method} ${path}`).toBe(413);
      expect(ErrorResponse.parse(JSON.parse(body)).error.code).toBe("PAYLOAD_TOO_LARGE");
    }
  });

  it("answers unknown routes and methods with a JSON 404, never a stack trace", async () => {
    for (const [method, path] of [
      ["GET", "/v1/nope"],
      ["DELETE", "/v1/events"],
      ["GET", "/nope"],
    ] as const) {
      const response = await get(`${gw.url}${path}`, KEY, { method });
      expect(response.status).toBe(404);
      const text = await response.text();
      expect(ErrorResponse.parse(JSON.parse(text)).error.code).toBe("NOT_FOUND");
      expect(text).not.toMatch(/at .*\.(ts|js):\d+/);
    }
  });
});

describe("security", () => {
  it("requires an API key on /v1: 401 without, 403 with a wrong one", async () => {
    const missing = await getJson(`${gw.url}/v1/markets`);
    expect(missing.status).toBe(401);
    expect(ErrorResponse.parse(missing.body).error.code).toBe("UNAUTHORIZED");
    expect(missing.headers.get("www-authenticate")).toContain("Bearer");

    const wrong = await getJson(`${gw.url}/v1/markets`, "wrong-key-123");
    expect(wrong.status).toBe(403);
    expect(ErrorResponse.parse(wrong.body).error.code).toBe("FORBIDDEN");

    // Unknown /v1 paths do not reveal themselves to callers without a key.
    expect((await getJson(`${gw.url}/v1/secret-route`)).status).toBe(401);

    expect((await getJson(`${gw.url}/v1/markets`, KEY)).status).toBe(200);
    const viaHeader = await fetch(`${gw.url}/v1/markets`, { headers: { "x-api-key": KEY } });
    expect(viaHeader.status).toBe(200);
    // Query-string keys are for streams only (browsers cannot set headers there).
    expect((await getJson(`${gw.url}/v1/markets?api_key=${KEY}`)).status).toBe(401);
  });

  it("leaves health, metrics, docs and the page open", async () => {
    for (const path of [
      "/healthz",
      "/readyz",
      "/metrics",
      "/openapi.json",
      "/docs",
      "/",
      "/vendor/lightweight-charts.js",
    ]) {
      expect((await fetch(`${gw.url}${path}`)).status, path).toBe(200);
    }
  });

  it("rate-limits each key on its own, with Retry-After once over the limit", async () => {
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 5; i++) {
      last = await get(`${gw.url}/v1/markets`, LIMITED_KEY);
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(last!.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(last!.headers.get("ratelimit-limit")).toBe("3");
    expect(last!.headers.get("ratelimit-remaining")).toBe("0");
    expect(ErrorResponse.parse(await last!.json()).error.code).toBe("RATE_LIMITED");

    // Another key is not affected.
    expect((await get(`${gw.url}/v1/markets`, KEY)).status).toBe(200);
    // The next window (the injected clock moves on) lets the limited key in again.
    clock.now += 60_000;
    expect((await get(`${gw.url}/v1/markets`, LIMITED_KEY)).status).toBe(200);
  });

  it("sends security headers, and CORS headers only to configured origins", async () => {
    const response = await get(`${gw.url}/v1/markets`, KEY, { headers: { origin: "https://app.example" } });
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(response.headers.get("x-frame-options")).toBeTruthy();
    expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example");

    const preflight = await fetch(`${gw.url}/v1/markets`, {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");

    const other = await get(`${gw.url}/v1/markets`, KEY, { headers: { origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers 503 on /v1 while not ready, and /readyz says why", async () => {
    gw.health.setCheck("test-dependency", false, "down for the test");
    try {
      const { status, body } = await getJson(`${gw.url}/v1/markets`, KEY);
      expect(status).toBe(503);
      expect(ErrorResponse.parse(body).error.code).toBe("UNAVAILABLE");
      const ready = await getJson<{ status: string; checks: Record<string, { ok: boolean }> }>(
        `${gw.url}/readyz`,
      );
      expect(ready.status).toBe(503);
      expect(ready.body.checks["test-dependency"]).toEqual({ ok: false, detail: "down for the test" });
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    } finally {
      gw.health.setCheck("test-dependency", true);
    }
    expect((await getJson(`${gw.url}/v1/markets`, KEY)).status).toBe(200);
  });

  it("exports metrics for requests and storage queries", async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(
      /market_scraper_gateway_http_requests_total\{[^}]*route="\/v1\/markets"[^}]*status="200"/,
    );
    expect(text).toMatch(
      /market_scraper_gateway_storage_requests_total\{[^}]*endpoint="events",outcome="ok"/,
    );
    expect(text).toMatch(/market_scraper_gateway_storage_requests_total\{[^}]*outcome="BAD_REQUEST"/);
  });
});

describe("openapi", () => {
  it("documents every contract path, with resolvable schema references", async () => {
    const { status, body } = await getJson<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    }>(`${gw.url}/openapi.json`);
    expect(status).toBe(200);
    expect(body.openapi).toBe("3.1.0");
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        "/v1/events",
        "/v1/markets",
        "/v1/markets/{symbol}/trades",
        "/v1/markets/{symbol}/ohlcv",
        "/v1/markets/{symbol}/ticker",
        "/v1/markets/{symbol}/orderbook",
        "/v1/connectors",
        "/v1/stream/sse",
        "/v1/stream",
      ]),
    );
    const refs = [...JSON.stringify(body).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
      (m) => m[1]!,
    );
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(body.components.schemas, ref).toHaveProperty([ref]);
    const docs = await fetch(`${gw.url}/docs`);
    expect(docs.headers.get("content-type")).toContain("text/html");
    expect(await docs.text()).toContain("swagger-ui-bundle.js");
  });
});

describe("storage outages", () => {
  it("answers 503 when storage does not answer in time", async () => {
    // A NATS without the storage service, where a "storage" takes storage.events but never replies.
    const lonely = await startNats({ isolated: true });
    const sink = await connectPublisher(lonely.url);
    const hung = sink.connection.subscribe("storage.events", { callback: () => undefined });
    await sink.connection.flush();
    const other = await startGateway(lonely.url, { storageTimeoutMs: 200 });
    try {
      const timeout = await getJson(`${other.url}/v1/events`);
      expect(timeout.status).toBe(503);
      expect(ErrorResponse.parse(timeout.body).error).toMatchObject({ code: "STORAGE_UNAVAILABLE" });
      expect(ErrorResponse.parse(timeout.body).error.message).toContain("did not answer");

      const noResponders = await getJson(`${other.url}/v1/markets`);
      expect(noResponders.status).toBe(503);
      expect(ErrorResponse.parse(noResponders.body).error.message).toContain("no storage service");
      expect(noResponders.headers.get("retry-after")).toBe("1");
    } finally {
      hung.unsubscribe();
      await other.stop();
      await sink.close();
      await lonely.stop();
    }
  });
});
