import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NatsEventBus } from "@market-scraper/bus";
import {
  type NatsServerHandle,
  makeConnectorStatus,
  makeDerivativeTicker,
  makeLiquidation,
  makeOhlcv,
  makeOrderBook,
  makeTrades,
  startNats,
  waitFor,
} from "@market-scraper/testkit";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RunningGateway,
  type StorageProcess,
  connectPublisher,
  getJson,
  publishProcessed,
  startGateway,
  startStandaloneProcess,
  startStorageProcess,
} from "./helpers.js";

// The live page in headless Chromium (Debian's `chromium`), fed by the gateway's REST history (from the
// real storage service) and its own WebSocket: the chart renders the stored candles and moves when new
// events arrive. Screenshots land in test-results/.

/** The browser to launch, or a one-line failure naming what to install (never a silent skip). */
function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (!existsSync(path)) {
    throw new Error(
      `no Chromium at ${path}: install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`,
    );
  }
  return path;
}
const RESULTS = fileURLToPath(new URL("../test-results/", import.meta.url));
const KEY = "page-test-key-1";
const MINUTE = 60_000;

let nats: NatsServerHandle;
let publisher: NatsEventBus;
let storage: StorageProcess;
let gw: RunningGateway;
let browser: Browser;
const pageErrors: string[] = [];

// Candles for the last 30 minutes (the page loads the last 300 intervals), aligned to the minute.
const bucket = Math.floor(Date.now() / MINUTE) * MINUTE;
const candles = Array.from({ length: 30 }, (_, i) => {
  const open = 50_000 + Math.round(Math.sin(i / 3) * 400);
  const close = open + (i % 3 === 0 ? -120 : 150);
  return makeOhlcv({
    source: "hyperliquid",
    symbol: "BTC-USD",
    timestamp: new Date(bucket - (30 - i) * MINUTE),
    payload: {
      interval: "1m",
      open,
      close,
      high: Math.max(open, close) + 80,
      low: Math.min(open, close) - 80,
    },
  });
});
const trades = makeTrades(5, { source: "hyperliquid", symbol: "BTC-USD", startMs: bucket - 10 * MINUTE });
// ETH-USD's feed stopped two days ago: the page shows those candles and says the feed stopped.
const DAY = 24 * 60 * MINUTE;
const oldBucket = bucket - 2 * DAY;
const oldCandles = Array.from({ length: 4 }, (_, i) =>
  makeOhlcv({
    source: "hyperliquid",
    symbol: "ETH-USD",
    timestamp: new Date(oldBucket + i * MINUTE),
    payload: { interval: "1m", open: 3000 + i, high: 3010 + i, low: 2990 + i, close: 3005 + i },
  }),
);
// A connector stuck before connecting: the page shows why (its last error), not only "connecting".
const LAST_ERROR = "resolving symbols: HTTP 451 from the exchange";
const stuck = makeConnectorStatus({
  source: "binance",
  payload: {
    status: "connecting",
    message: "resolving symbols",
    last_error: LAST_ERROR,
    last_error_at: new Date(bucket - MINUTE).toISOString(),
  },
});

beforeAll(async () => {
  const executablePath = chromiumPath();
  mkdirSync(RESULTS, { recursive: true });
  nats = await startNats({ isolated: true });
  publisher = await connectPublisher(nats.url);
  storage = await startStorageProcess(nats.url);
  gw = await startGateway(nats.url, { config: { GATEWAY_API_KEYS: [{ key: KEY, rateLimit: null }] } });
  await publishProcessed(publisher, [
    ...candles,
    ...trades,
    ...oldCandles,
    makeConnectorStatus({ source: "hyperliquid", payload: { status: "connected" } }),
    stuck,
  ]);
  await waitFor(
    async () => {
      const { body } = await getJson<{ data: unknown[] }>(
        `${gw.url}/v1/markets/BTC-USD/ohlcv?limit=1000`,
        KEY,
      );
      return body.data.length === candles.length;
    },
    { timeoutMs: 20_000, message: "the candles to be stored" },
  );
  browser = await chromium.launch({
    executablePath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await storage?.stop();
  await publisher?.close();
  await nats?.stop();
});

async function openPage(path: string, base = gw.url): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(`console: ${message.text()}`);
  });
  await page.goto(`${base}${path}`);
  return page;
}

const chartData = async (page: Page) => {
  const chart = page.locator("#chart");
  return {
    bars: Number(await chart.getAttribute("data-bars")),
    lastClose: (await chart.getAttribute("data-last-close")) ?? undefined,
  };
};

describe("live page", () => {
  it("renders the stored candles, trades and connectors, then updates from the WebSocket", async () => {
    const page = await openPage(`/?symbol=BTC-USD&api_key=${KEY}`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
    await page.waitForSelector("#connection[data-state=open]");

    expect(await chartData(page)).toEqual({
      bars: candles.length,
      lastClose: String(candles.at(-1)!.payload.close),
    });
    const canvases = await page.locator("#chart canvas").count();
    expect(canvases).toBeGreaterThan(0);
    const box = await page.locator("#chart").boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(await page.locator("#trades tbody tr").count()).toBe(trades.length);
    await expect.poll(() => page.locator("#connectors").textContent()).toContain("connected");
    await expect.poll(() => page.locator("#connectors .last-error").textContent()).toContain(LAST_ERROR);
    expect(await page.locator("#feed").getAttribute("data-state")).toBe("live");
    // The key came from the URL and was not left in it.
    expect(new URL(page.url()).searchParams.get("api_key")).toBeNull();
    const before = await page.locator("#chart").screenshot();

    // A new candle, then a trade that moves it, then a connector state change, all live.
    const live = makeOhlcv({
      source: "hyperliquid",
      symbol: "BTC-USD",
      timestamp: new Date(bucket),
      payload: { interval: "1m", open: 50_100, high: 50_900, low: 49_900, close: 50_800 },
    });
    await publishProcessed(publisher, [live]);
    await expect.poll(() => chartData(page)).toEqual({ bars: candles.length + 1, lastClose: "50800" });

    const [trade] = makeTrades(1, {
      source: "hyperliquid",
      symbol: "BTC-USD",
      startMs: bucket + 1_000,
      basePrice: 51_500,
    });
    await publishProcessed(publisher, [trade!]);
    await expect
      .poll(() => chartData(page))
      .toEqual({
        bars: candles.length + 1,
        lastClose: String(trade!.payload.price),
      });
    await expect.poll(() => page.locator("#trades tbody tr").count()).toBe(trades.length + 1);

    await publishProcessed(publisher, [
      makeConnectorStatus({
        source: "hyperliquid",
        payload: { status: "reconnecting", message: "socket closed" },
      }),
    ]);
    await expect.poll(() => page.locator("#connectors").textContent()).toContain("reconnecting");

    // A status published live with the connector's last error shows it.
    await publishProcessed(publisher, [
      makeConnectorStatus({
        source: "hyperliquid",
        payload: { status: "reconnecting", last_error: "socket closed by the exchange (1006)" },
      }),
    ]);
    await expect
      .poll(() => page.locator("#connectors").textContent())
      .toContain("socket closed by the exchange (1006)");

    const after = await page.locator("#chart").screenshot();
    expect(after.equals(before)).toBe(false);
    await page.screenshot({ path: join(RESULTS, "live-page.png") });
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it("shows a market whose feed stopped days ago, and says it stopped", async () => {
    await waitFor(
      async () =>
        (await getJson<{ data: unknown[] }>(`${gw.url}/v1/markets/ETH-USD/ohlcv`, KEY)).body.data.length ===
        oldCandles.length,
      { message: "the old candles to be stored" },
    );
    const page = await openPage(`/?symbol=ETH-USD&api_key=${KEY}`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
    expect(await chartData(page)).toEqual({
      bars: oldCandles.length,
      lastClose: String(oldCandles.at(-1)!.payload.close),
    });
    expect(await page.locator("#feed").getAttribute("data-state")).toBe("stopped");
    const newest = new Date(oldBucket + 3 * MINUTE).toISOString().slice(0, 16).replace("T", " ");
    expect(await page.locator("#feed").textContent()).toBe(`feed stopped · newest event ${newest} UTC`);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it("asks for an API key when it has none, and serves the API docs", async () => {
    const page = await openPage("/?symbol=BTC-USD");
    await page.waitForSelector("#key-form:not([hidden])");
    await page.close();
    pageErrors.length = 0; // the 401s of that page are expected

    const docs = await openPage("/docs");
    await docs.waitForSelector(".swagger-ui .info .title", { timeout: 20_000 });
    expect(await docs.locator(".swagger-ui .info .title").textContent()).toContain("market-scraper gateway");
    expect(await docs.locator(".opblock-summary-path").allTextContents()).toEqual(
      expect.arrayContaining(["/v1/events", "/v1/markets/{symbol}/ohlcv", "/v1/stream"]),
    );
    await docs.screenshot({ path: join(RESULTS, "api-docs.png") });
    expect(pageErrors).toEqual([]);
    await docs.close();
  });
});

describe("live page: markets of every source", () => {
  // BTC-USDT on Binance spot and on Binance USDⓈ-M perpetuals: one symbol, two instruments.
  const levels = (best: number, step: number) =>
    Array.from({ length: 12 }, (_, i): [number, number] => [best + step * i, 0.25 * (i + 1)]);
  const spotBook = makeOrderBook({
    source: "binance",
    symbol: "BTC-USDT",
    timestamp: new Date(bucket - 2 * MINUTE),
    payload: {
      bid: 42_000,
      ask: 42_000.5,
      bid_volume: 0.25,
      ask_volume: 0.25,
      bids: levels(42_000, -0.5),
      asks: levels(42_000.5, 0.5),
      depth: 20,
      sequence: 1_000,
    },
  });
  const perpBook = makeOrderBook({
    source: "binance-usdm",
    symbol: "BTC-USDT",
    timestamp: new Date(bucket - 2 * MINUTE),
    payload: {
      bid: 42_010,
      ask: 42_010.1,
      bid_volume: 3,
      ask_volume: 1,
      bids: [
        [42_010, 3],
        [42_009.9, 1.5],
      ],
      asks: [[42_010.1, 1]],
      sequence: 77,
    },
  });
  const funding = makeDerivativeTicker({
    source: "binance-usdm",
    symbol: "BTC-USDT",
    timestamp: new Date(bucket - 2 * MINUTE),
    payload: { funding_rate: 0.000125, mark_price: 42_011.5, open_interest: 81_234.5 },
  });
  const liquidation = makeLiquidation({
    source: "binance-usdm",
    symbol: "BTC-USDT",
    timestamp: new Date(bucket - 3 * MINUTE),
    payload: { side: "sell", price: 41_900, volume: 2.5 },
  });
  const spotTrades = makeTrades(2, { source: "binance", symbol: "BTC-USDT", startMs: bucket - 5 * MINUTE });

  const bookRows = async (page: Page, side: "bids" | "asks") =>
    Promise.all(
      (await page.locator(`#book tbody.${side} tr`).all()).map(async (row) => [
        Number(await row.getAttribute("data-price")),
        Number(await row.getAttribute("data-cumulative")),
      ]),
    );

  it("picks a source, shows that market's book depth (cumulative sizes), funding and liquidations, live", async () => {
    await publishProcessed(publisher, [spotBook, perpBook, funding, liquidation, ...spotTrades]);
    await waitFor(
      async () => {
        const { body } = await getJson<{ data: { source: string; symbol: string }[] }>(
          `${gw.url}/v1/markets`,
          KEY,
        );
        const usdm = (await getJson<{ data: unknown[] }>(`${gw.url}/v1/events?event_type=liquidation`, KEY))
          .body;
        return body.data.filter((m) => m.symbol === "BTC-USDT").length === 2 && usdm.data.length === 1;
      },
      { timeoutMs: 20_000, message: "both markets of BTC-USDT to be stored" },
    );
    const page = await openPage(`/?source=binance&symbol=BTC-USDT&api_key=${KEY}`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
    await page.waitForSelector("#connection[data-state=open]");

    // The picker lists every source with markets, by their names; the symbols are the source's.
    const sources = await Promise.all(
      (await page.locator("#source option").all()).map(async (option) => [
        await option.getAttribute("value"),
        await option.textContent(),
      ]),
    );
    expect(sources).toEqual([
      ["binance", "Binance spot"],
      ["binance-usdm", "Binance USDⓈ-M perpetuals"],
      ["hyperliquid", "Hyperliquid"],
    ]);
    expect(await page.locator("#symbol option").allTextContents()).toEqual(["BTC-USDT"]);
    expect(await page.locator("#chart-source").textContent()).toBe("Binance spot · spot");

    // Depth: the best 10 levels a side, asks above the spread (best nearest it), cumulative sizes.
    await expect.poll(() => page.locator("#book").getAttribute("data-sequence")).toBe("1000");
    const cumulative = (n: number) => Math.round(0.25 * ((n * (n + 1)) / 2) * 1e8) / 1e8;
    expect(await bookRows(page, "bids")).toEqual(
      Array.from({ length: 10 }, (_, i) => [42_000 - 0.5 * i, cumulative(i + 1)]),
    );
    expect(await bookRows(page, "asks")).toEqual(
      Array.from({ length: 10 }, (_, i) => [42_000.5 + 0.5 * i, cumulative(i + 1)]).reverse(),
    );
    expect(await page.locator("#spread").textContent()).toBe("spread 0.5");
    expect(await page.locator("#trades tbody tr").count()).toBe(spotTrades.length);
    expect(await page.locator("#derivatives").isHidden()).toBe(true);
    expect(await page.locator("#liquidations-panel").isHidden()).toBe(true);

    // A newer book arrives live; an older one (lower sequence) after it is ignored.
    const live = makeOrderBook({
      source: "binance",
      symbol: "BTC-USDT",
      timestamp: new Date(bucket - MINUTE),
      payload: {
        bid: 42_001,
        ask: 42_001.5,
        bid_volume: 2,
        ask_volume: 1,
        bids: [
          [42_001, 2],
          [42_000.5, 0.5],
        ],
        asks: [[42_001.5, 1]],
        sequence: 1_001,
      },
    });
    const stale = makeOrderBook({
      source: "binance",
      symbol: "BTC-USDT",
      timestamp: new Date(bucket - MINUTE),
      payload: { sequence: 999 },
    });
    await publishProcessed(publisher, [live]);
    await expect.poll(() => page.locator("#book").getAttribute("data-sequence")).toBe("1001");
    await publishProcessed(publisher, [stale]);
    expect(await bookRows(page, "bids")).toEqual([
      [42_001, 2],
      [42_000.5, 2.5],
    ]);
    expect(await bookRows(page, "asks")).toEqual([[42_001.5, 1]]);
    await page.screenshot({ path: join(RESULTS, "live-page-depth.png") });

    // The perpetual of the same symbol: its own book, its funding and its liquidations.
    await page.selectOption("#source", "binance-usdm");
    await expect.poll(() => page.locator("#book").getAttribute("data-sequence")).toBe("77");
    expect(new URL(page.url()).searchParams.get("source")).toBe("binance-usdm");
    expect(await page.locator("#symbol").inputValue()).toBe("BTC-USDT");
    expect(await page.locator("#chart-source").textContent()).toBe("Binance USDⓈ-M perpetuals · perpetual");
    expect(await bookRows(page, "bids")).toEqual([
      [42_010, 3],
      [42_009.9, 4.5],
    ]);
    await expect.poll(() => page.locator("#derivatives").isVisible()).toBe(true);
    expect(await page.locator("#funding-rate").textContent()).toBe("0.0125%");
    expect(await page.locator("#open-interest").textContent()).toBe((81_234.5).toLocaleString("en-US"));
    expect(await page.locator("#liquidations tbody tr").count()).toBe(1);
    expect(await page.locator("#liquidations tbody tr td.side").textContent()).toBe("sell");
    expect(await page.locator("#trades tbody tr").count()).toBe(0);

    // Live funding and a live liquidation of this market; the spot market's book does not leak in.
    await publishProcessed(publisher, [
      makeDerivativeTicker({
        source: "binance-usdm",
        symbol: "BTC-USDT",
        timestamp: new Date(bucket),
        payload: { funding_rate: -0.0001, mark_price: 42_020 },
      }),
      makeLiquidation({ source: "binance-usdm", symbol: "BTC-USDT", timestamp: new Date(bucket) }),
      makeOrderBook({
        source: "binance",
        symbol: "BTC-USDT",
        timestamp: new Date(bucket),
        payload: { sequence: 5_000 },
      }),
    ]);
    await expect.poll(() => page.locator("#funding-rate").textContent()).toBe("-0.0100%");
    await expect.poll(() => page.locator("#liquidations tbody tr").count()).toBe(2);
    expect(await page.locator("#book").getAttribute("data-sequence")).toBe("77");
    await page.screenshot({ path: join(RESULTS, "live-page-perpetual.png") });
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});

describe("live page after a replay", () => {
  it("shows the replayed capture's candles and trades, whatever their date, and says it is a replay", async () => {
    // The README's replay, at full speed: `REPLAY_FILE=services/standalone/fixtures/sample-capture.jsonl`.
    const dir = mkdtempSync(join(tmpdir(), "live-page-replay-"));
    const app = await startStandaloneProcess({
      REPLAY_FILE: "services/standalone/fixtures/sample-capture.jsonl",
      REPLAY_SPEED: "max",
      DATABASE_URL: `sqlite:${join(dir, "replay.db")}`,
      STORAGE_FLUSH_MS: "20ms",
    });
    try {
      await waitFor(
        async () => {
          const { body } = await getJson<{ data: { status: string; message: string | null }[] }>(
            `${app.url}/v1/connectors`,
          );
          return body.data.some((c) => c.status === "disconnected" && /finished/.test(c.message ?? ""));
        },
        { timeoutMs: 60_000, message: "the replay to finish" },
      );
      const stored = async () => ({
        candles: (
          await getJson<{ data: { payload: { close: number } }[] }>(
            `${app.url}/v1/markets/BTC-USD/ohlcv?limit=1000`,
          )
        ).body.data,
        trades: (await getJson<{ data: unknown[] }>(`${app.url}/v1/markets/BTC-USD/trades?limit=50`)).body
          .data,
      });
      await waitFor(async () => (await stored()).candles.length >= 2, { message: "replayed candles stored" });

      // A reload after the replay: the capture is months old, the chart must still show it.
      const page = await openPage("/?symbol=BTC-USD", app.url);
      await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
      const { candles: replayed, trades: replayedTrades } = await stored();
      expect(await chartData(page)).toEqual({
        bars: replayed.length,
        lastClose: String(replayed.at(-1)!.payload.close),
      });
      expect(await page.locator("#chart canvas").count()).toBeGreaterThan(0);
      expect(await page.locator("#trades tbody tr").count()).toBe(replayedTrades.length);
      expect(replayedTrades.length).toBeGreaterThan(0);
      await expect.poll(() => page.locator("#feed").getAttribute("data-state")).toBe("replay-finished");
      expect(await page.locator("#feed").textContent()).toMatch(
        /replay finished · newest event 2026-09-24 06:4\d UTC/,
      );

      await page.screenshot({ path: join(RESULTS, "live-page-after-replay.png") });
      expect(pageErrors).toEqual([]);
      await page.close();
    } finally {
      await app.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
