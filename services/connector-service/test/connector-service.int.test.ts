import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StandardEvent, parseSubject } from "@market-scraper/events";
import {
  FakeHyperliquidServer,
  type FakeHlCandle,
  type FakeHlTrade,
  type NatsServerHandle,
  freePort,
  startNats,
  waitFor,
} from "@market-scraper/testkit";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// End to end: the built service as a process, the fake exchange, a real nats-server; we watch
// market.> and system.> as any consumer would.
const serviceDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const mainJs = join(serviceDir, "dist", "main.js");

interface Seen {
  subject: string;
  event: StandardEvent;
}

const MINUTE = 60_000;
const base = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;

function trade(coin: string, tid: number, px: string, sz: string, side: "A" | "B" = "B"): FakeHlTrade {
  return {
    coin,
    side,
    px,
    sz,
    time: base + tid * 1000,
    hash: "0x40d169aa50ad8a32b44a04156eee0201d8002e5c6456b7c1ae175e381f73f9dd",
    tid: 1016375172059000 + tid,
    users: ["0x9aa589355bf745db9784c8ef3c646360f11b58af", "0x8269c0a4f5f1a14582e0aa46856a234893c41970"],
  };
}

function candle(openTime: number, close: string, end = openTime + MINUTE - 1): FakeHlCandle {
  return {
    t: openTime,
    T: end,
    s: "BTC",
    i: "1m",
    o: "69990.0",
    c: close,
    h: "70010.0",
    l: "69980.0",
    v: "1.5",
    n: 12,
  };
}

function spawnService(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [mainJs], {
    cwd: serviceDir,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string; stdout: string }> {
  let stderr = "";
  let stdout = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stderr, stdout })));
}

describe("connector-service end to end (dist/main.js, fake Hyperliquid, nats-server)", () => {
  let nats: NatsServerHandle;
  let fake: FakeHyperliquidServer;
  let nc: NatsConnection;
  let child: ChildProcess | undefined;
  let exited: Promise<{ code: number | null; stderr: string; stdout: string }>;
  const seen: Seen[] = [];
  let httpPort = 0;

  async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    let total = 0;
    for (const line of text.split("\n")) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
        total += Number(line.split(" ").at(-1));
    }
    return total;
  }

  const ofType = (type: string): StandardEvent[] =>
    seen.filter((s) => s.event.event_type === type).map((s) => s.event);
  const statuses = (): string[] =>
    ofType("connector_status").map((e) => (e.payload as { status: string }).status);
  const errorsWith = (code: string): StandardEvent[] =>
    ofType("error").filter((e) => (e.payload as { error_code: string }).error_code === code);
  const tradeIds = (): string[] => ofType("trade").map((e) => (e.payload as { trade_id: string }).trade_id);
  const count = (list: string[], item: string): number => list.filter((x) => x === item).length;

  beforeAll(async () => {
    expect(existsSync(mainJs), `${mainJs} missing: run pnpm build first`).toBe(true);
    nats = await startNats({ isolated: true });
    fake = await FakeHyperliquidServer.start();
    nc = await connect({ servers: nats.url });
    for (const subject of ["market.>", "system.>"]) {
      nc.subscribe(subject, {
        callback: (_err, msg) => {
          seen.push({ subject: msg.subject, event: StandardEvent.parse(JSON.parse(msg.string())) });
        },
      });
    }
    await nc.flush();

    // What the exchange has before we connect: recent trades, a book, a candle, bbo + asset context.
    fake.pushTrades([trade("BTC", 1, "69997.0", "0.38111"), trade("BTC", 2, "69998.5", "0.33458", "A")]);
    fake.pushTrades([trade("PURR/USDC", 3, "0.067131", "120.0")]);
    fake.pushBook(
      "BTC",
      [
        { px: "69996.0", sz: "1.5", n: 3 },
        { px: "69995.0", sz: "2.25", n: 1 },
      ],
      [
        { px: "69997.0", sz: "0.75", n: 2 },
        { px: "69998.0", sz: "4.0", n: 5 },
      ],
      base + 5000,
    );
    fake.pushCandle(candle(base, "70001.0"));
    fake.pushBbo("BTC", { px: "69996.0", sz: "1.5", n: 3 }, { px: "69997.0", sz: "0.75", n: 2 }, base + 6000);
    fake.pushAssetCtx("BTC", {
      funding: "0.0000125",
      openInterest: "36585.31848",
      prevDayPx: "68627.0",
      dayNtlVlm: "4161029539.69",
      premium: "-0.0006",
      oraclePx: "69990.0",
      markPx: "69996.5",
      midPx: "69996.5",
      impactPxs: ["69996.0", "69997.0"],
      dayBaseVlm: "49116.08533",
    });

    httpPort = await freePort();
    child = spawnService({
      NATS_URL: nats.url,
      HTTP_PORT: String(httpPort),
      LOG_LEVEL: "warn",
      CONNECTORS: "hyperliquid",
      HYPERLIQUID_WS_URL: fake.wsUrl,
      HYPERLIQUID_REST_URL: fake.restUrl,
      HYPERLIQUID_SYMBOLS: "BTC,PURR/USDC,HYPE-USDC,NOPE",
      HYPERLIQUID_CHANNELS: "trade,order_book,ticker,ohlcv",
      HYPERLIQUID_RECONNECT_INITIAL: "100ms",
      HYPERLIQUID_RECONNECT_MAX: "500ms",
      HEARTBEAT_INTERVAL: "1s",
    });
    exited = exitOf(child);
  });

  afterAll(async () => {
    if (child?.exitCode === null) child.kill("SIGKILL");
    await nc?.close();
    await fake?.close();
    await nats?.stop();
  });

  it("resolves symbols, subscribes and publishes normalized events", async () => {
    await waitFor(() => statuses().includes("subscribed"), { timeoutMs: 20_000, message: "subscribed" });
    await waitFor(
      () => tradeIds().length >= 3 && ofType("ticker").length >= 1 && ofType("ohlcv").length >= 1,
      {
        message: "snapshot events",
      },
    );
    expect(statuses().slice(0, 3)).toEqual(["connecting", "connected", "subscribed"]);

    // The unknown coin is reported and never subscribed (the server would drop the socket).
    const invalid = errorsWith("INVALID_SYMBOL");
    expect(
      invalid.map((e) => (e.payload as unknown as { details: { symbol: string } }).details.symbol),
    ).toEqual(["NOPE"]);
    expect(invalid[0]!.priority).toBe(1);
    expect(fake.hasSubscription("trades", "@107")).toBe(true);
    expect(fake.hasSubscription("trades", "NOPE")).toBe(false);

    const btc = seen.find(
      (s) =>
        s.event.event_type === "trade" &&
        (s.event.payload as { trade_id: string }).trade_id === "1016375172059001",
    )!;
    expect(btc.subject).toBe("market.trade.hyperliquid.BTC-USD");
    expect(btc.event.source).toBe("hyperliquid");
    expect(btc.event.timestamp).toBe(new Date(base + 1000).toISOString());
    expect(btc.event.payload).toMatchObject({
      symbol: "BTC-USD",
      raw_symbol: "BTC",
      price: 69997,
      volume: 0.38111,
      side: "buy",
      timestamp: new Date(base + 1000).toISOString(),
    });
    const purr = seen.find(
      (s) => s.event.event_type === "trade" && (s.event.payload as { symbol: string }).symbol === "PURR-USDC",
    )!;
    expect(purr.subject).toBe("market.trade.hyperliquid.PURR-USDC");
    expect(purr.event.payload).toMatchObject({
      raw_symbol: "PURR/USDC",
      price: 0.067131,
      volume: 120,
      side: "buy",
    });

    const book = seen.find((s) => s.event.event_type === "order_book")!;
    expect(book.subject).toBe("market.order_book.hyperliquid.BTC-USD");
    expect(book.event.payload).toMatchObject({
      bid: 69996,
      ask: 69997,
      bid_volume: 1.5,
      ask_volume: 0.75,
      bids: [
        [69996, 1.5],
        [69995, 2.25],
      ],
      asks: [
        [69997, 0.75],
        [69998, 4],
      ],
    });

    const ticker = seen.find((s) => s.event.event_type === "ticker")!;
    expect(ticker.subject).toBe("market.ticker.hyperliquid.BTC-USD");
    expect(ticker.event.payload).toMatchObject({
      price: 69996.5,
      volume: 49116.08533,
      bid: 69996,
      ask: 69997,
      mark_price: 69996.5,
      volume_quote_24h: 4161029539.69,
    });

    const ohlcv = seen.find((s) => s.event.event_type === "ohlcv")!;
    expect(ohlcv.subject).toBe("market.ohlcv.hyperliquid.BTC-USD");
    expect(ohlcv.event.payload).toMatchObject({
      open: 69990,
      high: 70010,
      low: 69980,
      close: 70001,
      volume: 1.5,
      interval: "1m",
      trades: 12,
      closed: true,
      timestamp: new Date(base).toISOString(),
    });
    for (const s of seen) expect(parseSubject(s.subject)).toBeTruthy();

    // Health and metrics endpoints.
    const connectors = (await (await fetch(`http://127.0.0.1:${httpPort}/connectors`)).json()) as {
      data: { connector: string; status: string; state: string; detail?: string }[];
    };
    expect(connectors.data).toEqual([
      expect.objectContaining({
        connector: "hyperliquid",
        status: "degraded",
        state: "subscribed",
        detail: "unknown symbols: NOPE",
      }),
    ]);
    expect((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status).toBe(200);
    expect(
      await metric("market_scraper_connector_messages_in_total", { channel: "trades" }),
    ).toBeGreaterThanOrEqual(2);
    expect(await metric("market_scraper_connector_events_out_total", { event_type: "trade" })).toBe(3);
    expect(
      await metric("market_scraper_connector_last_message_age_seconds", { channel: "trades" }),
    ).toBeGreaterThanOrEqual(0);
    expect(await metric("market_scraper_bus_published_total")).toBeGreaterThan(0);
  });

  it("publishes every trade once across a forced disconnect with an overlapping snapshot, and backfills candles", async () => {
    fake.pushTrades([trade("BTC", 4, "70000.0", "0.1")]);
    await waitFor(() => tradeIds().includes("1016375172059004"), { message: "trade 4" });
    const subscribedBefore = count(statuses(), "subscribed");

    fake.dropConnections();
    // While we are away: two trades and two closed candles happen, and a new candle opens.
    fake.pushTrades([trade("BTC", 5, "70001.0", "0.2"), trade("BTC", 6, "70002.0", "0.3", "A")]);
    fake.pushCandle(candle(base + MINUTE, "70003.0"));
    fake.pushCandle(candle(base + 2 * MINUTE, "70004.0"));
    fake.pushCandle(candle(base + 3 * MINUTE, "70005.0", Date.now() + 10 * MINUTE));

    await waitFor(() => count(statuses(), "subscribed") > subscribedBefore, {
      timeoutMs: 15_000,
      message: "re-subscribed",
    });
    await waitFor(() => tradeIds().includes("1016375172059006"), { message: "trade 6 from the snapshot" });
    await waitFor(
      () => ofType("ohlcv").filter((e) => (e.payload as { closed?: boolean }).closed === true).length >= 3,
      {
        message: "backfilled candles",
      },
    );

    const ids = tradeIds();
    const expected = [1, 2, 4, 5, 6].map((n) => String(1016375172059000 + n));
    for (const id of expected) expect(count(ids, id), `trade ${id}`).toBe(1);
    expect(ids.filter((id) => id !== "1016375172059003")).toHaveLength(expected.length);

    const after = statuses().slice(statuses().indexOf("subscribed") + 1);
    expect(after).toEqual(expect.arrayContaining(["reconnecting", "connecting", "connected", "subscribed"]));
    expect(after.indexOf("reconnecting")).toBeLessThan(after.lastIndexOf("subscribed"));
    expect(errorsWith("DISCONNECTED").length).toBeGreaterThanOrEqual(1);

    const candles = ofType("ohlcv").map(
      (e) => e.payload as { timestamp: string; closed: boolean; close: number },
    );
    const closed = candles.filter((c) => c.closed).map((c) => c.timestamp);
    expect(closed.sort()).toEqual(
      [base, base + MINUTE, base + 2 * MINUTE].map((t) => new Date(t).toISOString()),
    );
    expect(candles.some((c) => !c.closed && c.timestamp === new Date(base + 3 * MINUTE).toISOString())).toBe(
      true,
    );
  });

  it("turns garbage frames into error events and keeps streaming", async () => {
    fake.sendRaw("this is not json {");
    fake.sendRaw(JSON.stringify({ channel: "mystery", data: { x: 1 } }));
    fake.sendRaw(
      JSON.stringify({
        channel: "trades",
        data: [{ coin: "BTC", side: "B", px: "abc", sz: "1", time: base, tid: 7 }],
      }),
    );
    fake.pushTrades([trade("BTC", 8, "70010.0", "0.4")]);
    await waitFor(() => tradeIds().includes("1016375172059008"), { message: "trade after garbage" });
    await waitFor(() => errorsWith("PARSE_ERROR").length >= 3, { message: "parse errors" });
    const messages = errorsWith("PARSE_ERROR").map((e) => (e.payload as { message: string }).message);
    expect(messages.some((m) => m.includes("not JSON"))).toBe(true);
    expect(messages.some((m) => m.includes("unknown channel 'mystery'"))).toBe(true);
    expect(messages.some((m) => m.includes("px"))).toBe(true);
    expect(count(tradeIds(), "1016375172059007")).toBe(0);
    for (const e of errorsWith("PARSE_ERROR")) expect(e.priority).toBe(1);
    expect(await metric("market_scraper_connector_parse_errors_total")).toBeGreaterThanOrEqual(3);
  });

  it("is the first line of validation: numbers for strings, __proto__ keys, binary frames, crossed books", async () => {
    const reconnects = await metric("market_scraper_connector_reconnects_total");
    const errorsBefore = ofType("error").length;
    const booksBefore = ofType("order_book").length;
    const good = JSON.stringify(trade("BTC", 20, "70020.0", "0.1"));
    const numberPx = JSON.stringify({ ...trade("BTC", 21, "0", "0.1"), px: 70021 });
    const smuggled = JSON.stringify(trade("BTC", 22, "70022.0", "0.1")).replace("{", '{"__proto__":{"x":1},');
    fake.sendRaw(`{"channel":"trades","data":[${numberPx},${smuggled},${good}]}`);
    fake.sendBinary(new Uint8Array([1, 2, 3]));
    fake.pushBook(
      "BTC",
      [{ px: "70100.0", sz: "1.0", n: 1 }],
      [{ px: "70000.0", sz: "1.0", n: 1 }],
      base + 7000,
    );
    fake.pushBook(
      "BTC",
      [{ px: "69999.0", sz: "0", n: 1 }],
      [{ px: "70000.0", sz: "1.0", n: 1 }],
      base + 7500,
    );
    fake.pushBook(
      "BTC",
      [{ px: "69990.0", sz: "2.0", n: 2 }],
      [{ px: "70000.0", sz: "1.0", n: 1 }],
      base + 8000,
    );

    await waitFor(() => ofType("order_book").length > booksBefore, {
      message: "the good book after the bad",
    });
    await waitFor(() => ofType("error").length >= errorsBefore + 4, { message: "four error events" });
    // The good trade of the frame is published; the number and the smuggled key are not.
    expect(count(tradeIds(), "1016375172059020")).toBe(1);
    expect(count(tradeIds(), "1016375172059021")).toBe(0);
    expect(count(tradeIds(), "1016375172059022")).toBe(0);
    const newErrors = ofType("error")
      .slice(errorsBefore)
      .map((e) => e.payload as { error_code: string; message: string });
    expect(newErrors.filter((e) => e.error_code === "PARSE_ERROR").map((e) => e.message)).toEqual(
      expect.arrayContaining([
        expect.stringContaining("trades[0]: bad px (a JSON number, not a decimal string)"),
        expect.stringContaining('trades[1]: forbidden key "__proto__"'),
        expect.stringContaining("crossed book: best bid 70100 ≥ best ask 70000"),
        expect.stringContaining("bids[0] bad level"),
      ]),
    );
    expect(newErrors.filter((e) => e.error_code === "UNEXPECTED_FRAME")).toHaveLength(1);
    // Neither bad book went out: the next book published is the good one.
    const books = ofType("order_book").slice(booksBefore);
    expect(books.map((e) => (e.payload as { bid: number }).bid)).toEqual([69990]);
    expect(await metric("market_scraper_connector_parse_errors_total", { channel: "binary" })).toBe(1);
    expect(await metric("market_scraper_connector_messages_in_total", { channel: "binary" })).toBe(1);
    expect(await metric("market_scraper_connector_parse_errors_total", { channel: "l2Book" })).toBe(2);
    // The connection stayed up through all of it.
    expect(await metric("market_scraper_connector_reconnects_total")).toBe(reconnects);
    expect(statuses().at(-1)).toBe("subscribed");
  });

  it("sends heartbeats and stops cleanly on SIGTERM", async () => {
    await waitFor(() => ofType("heartbeat").length >= 1, { message: "heartbeat" });
    const heartbeat = seen.find((s) => s.event.event_type === "heartbeat")!;
    expect(heartbeat.subject).toBe("system.heartbeat.hyperliquid");
    // Degraded, not healthy: NOPE was configured and the exchange does not list it.
    expect(heartbeat.event.payload).toMatchObject({
      service: "connector-service",
      status: "degraded",
      state: "subscribed",
    });

    child!.kill("SIGTERM");
    const result = await exited;
    expect(result.code).toBe(0);
    await nc.flush();
    await waitFor(() => statuses().at(-1) === "stopped", { message: "stopped status" });
  });

  it("exits 78 with one clear line for a bad variable", async () => {
    const bad = spawnService({ HYPERLIQUID_CHANNELS: "trade,candles", CONNECTOR_SHARD: "2/2" });
    const result = await exitOf(bad);
    expect(result.code).toBe(78);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^config error: CONNECTOR_SHARD: expected i\/n/),
      expect.stringMatching(
        /^config error: HYPERLIQUID_CHANNELS: unknown candles; expected some of trade, order_book, ticker, ohlcv/,
      ),
    ]);
  });

  it("exits 78 without echoing the password of a malformed NATS_URL", async () => {
    const result = await exitOf(spawnService({ NATS_URL: "mysql://u:S3cretPW@h/db" }));
    expect(result.code).toBe(78);
    expect(result.stderr).not.toContain("S3cretPW");
    expect(result.stderr).toContain('got "mysql://u:***@h/db"');
  });

  it("never logs or publishes the password of a URL it was given", async () => {
    const withPassword = (url: string): string => url.replace("://", "://u:S3cretPW@");
    const from = seen.length;
    const leaky = spawnService({
      NATS_URL: withPassword(nats.url),
      HTTP_PORT: String(await freePort()),
      LOG_LEVEL: "trace",
      CONNECTORS: "hyperliquid",
      HYPERLIQUID_WS_URL: fake.wsUrl,
      // fetch refuses a URL with credentials, and says so with the URL: retried, then reported.
      HYPERLIQUID_REST_URL: withPassword(fake.restUrl),
      HYPERLIQUID_SYMBOLS: "BTC",
      HYPERLIQUID_RECONNECT_INITIAL: "10ms",
      HYPERLIQUID_RECONNECT_MAX: "20ms",
    });
    const result = exitOf(leaky);
    const restFailed = (): StandardEvent[] =>
      seen
        .slice(from)
        .map((s) => s.event)
        .filter(
          (e) =>
            e.event_type === "error" && (e.payload as { error_code: string }).error_code === "REST_FAILED",
        );
    await waitFor(() => restFailed().length >= 1, { timeoutMs: 20_000, message: "REST_FAILED event" });
    leaky.kill("SIGTERM");
    const { stdout, stderr } = await result;
    const message = (restFailed()[0]!.payload as { message: string }).message;
    expect(message).toContain("u:***@127.0.0.1");
    expect(message).not.toContain("S3cretPW");
    expect(stdout).toContain("u:***@127.0.0.1");
    expect(stdout + stderr).not.toContain("S3cretPW");
  });
});
