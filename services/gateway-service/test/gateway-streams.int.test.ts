import type { NatsEventBus } from "@market-scraper/bus";
import type { StandardEvent } from "@market-scraper/events";
import {
  type NatsServerHandle,
  makeConnectorStatus,
  makeHeartbeat,
  makeOrderBook,
  makeTicker,
  makeTrade,
  startNats,
  waitFor,
} from "@market-scraper/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorResponse } from "../src/index.js";
import {
  type RunningGateway,
  TestSocket,
  TestSse,
  connectPublisher,
  getJson,
  publishProcessed,
  startGateway,
} from "./helpers.js";

// Live streams: each gateway replica subscribes to processed.> and system.> on real NATS and fans the
// events out to its WebSocket and SSE clients by their filters, each client behind a bounded buffer.

const KEY = "stream-test-key-1";
const BUFFER = 20;

let nats: NatsServerHandle;
let publisher: NatsEventBus;
let gw: RunningGateway;

beforeAll(async () => {
  nats = await startNats({ isolated: true });
  publisher = await connectPublisher(nats.url);
  gw = await startGateway(nats.url, {
    config: {
      GATEWAY_API_KEYS: [{ key: KEY, rateLimit: null }],
      GATEWAY_STREAM_BUFFER: BUFFER,
      GATEWAY_STREAM_HIGH_WATER: 16_384,
      GATEWAY_WS_MAX_MESSAGE: 1024,
      GATEWAY_WS_MAX_SUBSCRIPTIONS: 3,
      // Long enough that a paused client can resume and read its close frame.
      GATEWAY_STREAM_CLOSE_GRACE: 60_000,
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await publisher?.close();
  await nats?.stop();
});

const wsUrl = (gateway: RunningGateway, query = `api_key=${KEY}`) =>
  `${gateway.url.replace("http", "ws")}/v1/stream${query === "" ? "" : `?${query}`}`;
const ids = (events: readonly StandardEvent[]) => events.map((e) => e.event_id);

/** Publishes a last event the client wants and waits for it: everything published before it has arrived. */
async function settle(received: () => StandardEvent[], sentinel: StandardEvent): Promise<void> {
  await publishProcessed(publisher, [sentinel]);
  await waitFor(() => received().some((e) => e.event_id === sentinel.event_id), { message: "the sentinel" });
}

describe("WebSocket /v1/stream", () => {
  it("acks subscriptions and delivers exactly the matching events, in order", async () => {
    const socket = await TestSocket.open(wsUrl(gw));
    try {
      expect(await socket.request({ action: "ping" }, "pong")).toEqual({ type: "pong" });
      const first = await socket.request(
        { action: "subscribe", event_types: ["trade"], symbols: ["BTC-USD"] },
        "subscribed",
      );
      expect(first).toEqual({
        type: "subscribed",
        id: "s1",
        event_types: ["trade"],
        symbols: ["BTC-USD"],
        sources: null,
        subscriptions: [{ id: "s1", event_types: ["trade"], symbols: ["BTC-USD"], sources: null }],
      });
      const second = await socket.request(
        { action: "subscribe", id: "status", event_types: ["connector_status"], sources: ["hyperliquid"] },
        "subscribed",
      );
      expect(second).toMatchObject({ id: "status", subscriptions: [{ id: "s1" }, { id: "status" }] });

      const btc1 = makeTrade({ source: "hyperliquid", symbol: "BTC-USD" });
      const eth = makeTrade({ source: "hyperliquid", symbol: "ETH-USD" });
      const ticker = makeTicker({ source: "hyperliquid", symbol: "BTC-USD" });
      const status = makeConnectorStatus({ source: "hyperliquid" });
      const otherStatus = makeConnectorStatus({ source: "binance" });
      const btc2 = makeTrade({ source: "binance", symbol: "BTC-USD" });
      const beat = makeHeartbeat({ source: "storage-service" });
      const sent = await publishProcessed(publisher, [btc1, eth, ticker, status, otherStatus, btc2, beat]);
      const sentinel = makeConnectorStatus({ source: "hyperliquid", payload: { status: "stale" } });
      await settle(() => socket.events(), sentinel);

      const wanted = [btc1, status, btc2, sentinel].map((e) => e.event_id);
      expect(ids(socket.events())).toEqual(wanted);
      // The frame carries the event as published (processed market data keeps its processing stamp).
      expect(socket.events()[0]).toEqual(sent[0]);

      const removed = await socket.request({ action: "unsubscribe", id: "s1" }, "subscribed");
      expect(removed).toEqual({
        type: "subscribed",
        removed: ["s1"],
        subscriptions: [
          { id: "status", event_types: ["connector_status"], symbols: null, sources: ["hyperliquid"] },
        ],
      });
      const before = socket.events().length;
      await publishProcessed(publisher, [makeTrade({ source: "hyperliquid", symbol: "BTC-USD" })]);
      const last = makeConnectorStatus({ source: "hyperliquid" });
      await settle(() => socket.events(), last);
      expect(ids(socket.events().slice(before))).toEqual([last.event_id]);

      const none = await socket.request({ action: "unsubscribe" }, "subscribed");
      expect(none).toEqual({ type: "subscribed", removed: ["status"], subscriptions: [] });
    } finally {
      socket.close();
    }
  });

  it("answers bad messages with error frames and keeps the socket open", async () => {
    const socket = await TestSocket.open(wsUrl(gw));
    try {
      const cases: [unknown, string, string][] = [
        ["{not json", "BAD_REQUEST", "invalid JSON"],
        ["[1,2]", "BAD_REQUEST", "JSON object"],
        [{ action: "dance" }, "BAD_REQUEST", "'action' is 'dance'"],
        [{ event_types: ["trade"] }, "BAD_REQUEST", "'action' is missing"],
        [{ action: "subscribe", event_types: ["candle"] }, "BAD_REQUEST", "'event_types[0]' must be one of"],
        [{ action: "subscribe", symbol: "BTC-USD" }, "BAD_REQUEST", "unknown field 'symbol'"],
        [{ action: "subscribe", symbols: [] }, "BAD_REQUEST", "'symbols' must list at least one symbol"],
        [{ action: "subscribe", symbols: "BTC-USD" }, "BAD_REQUEST", "'symbols'"],
        [{ action: "unsubscribe", id: "nope" }, "NOT_FOUND", "no subscription 'nope'"],
      ];
      for (const [message, code, text] of cases) {
        const frame = await socket.request(message, "error");
        expect(frame.type, JSON.stringify(message)).toBe("error");
        expect(frame.error).toMatchObject({ code });
        expect((frame.error as { message: string }).message).toContain(text);
      }
      const from = socket.frames.length;
      socket.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      expect((await socket.next((f) => f.type === "error", from)).error).toMatchObject({
        code: "BAD_REQUEST",
        message: expect.stringContaining("binary") as unknown,
      });

      await socket.request({ action: "subscribe", id: "a" }, "subscribed");
      expect((await socket.request({ action: "subscribe", id: "a" }, "error")).error).toMatchObject({
        message: "subscription 'a' exists already",
      });
      await socket.request({ action: "subscribe" }, "subscribed");
      await socket.request({ action: "subscribe" }, "subscribed");
      expect((await socket.request({ action: "subscribe" }, "error")).error).toMatchObject({
        code: "LIMIT_EXCEEDED",
      });

      // Still open and answering.
      expect(await socket.request({ action: "ping", id: "p1" }, "pong")).toEqual({ type: "pong", id: "p1" });
      expect(socket.closed).toBeUndefined();
    } finally {
      socket.close();
    }
  });

  it("closes the socket with 1009 on a message over the size limit", async () => {
    const socket = await TestSocket.open(wsUrl(gw));
    socket.send({ action: "subscribe", symbols: ["X".repeat(2000)] });
    expect((await socket.waitClosed()).code).toBe(1009);
  });

  it("needs the API key: 401 without, 403 with a wrong one, header or query", async () => {
    await expect(TestSocket.open(wsUrl(gw, ""))).rejects.toThrow("401");
    await expect(TestSocket.open(wsUrl(gw, "api_key=wrong-key-123"))).rejects.toThrow("403");
    await expect(TestSocket.open(wsUrl(gw, "api_key=x&foo=1"))).rejects.toThrow("403");
    await expect(TestSocket.open(wsUrl(gw, `api_key=${KEY}&foo=1`))).rejects.toThrow("400");
    const viaHeader = await TestSocket.open(wsUrl(gw, ""), { headers: { authorization: `Bearer ${KEY}` } });
    expect(await viaHeader.request({ action: "ping" }, "pong")).toEqual({ type: "pong" });
    viaHeader.close();
    const plain = await getJson(`${gw.url}/v1/stream?api_key=${KEY}`);
    expect(plain.status).toBe(426);
    expect(ErrorResponse.parse(plain.body).error.code).toBe("UPGRADE_REQUIRED");
  });
});

describe("SSE /v1/stream/sse", () => {
  it("streams exactly the matching events after a subscribed event", async () => {
    const sse = await TestSse.open(
      `${gw.url}/v1/stream/sse?event_types=trade,order_book&symbols=BTC-USD&sources=hyperliquid`,
      { "x-api-key": KEY },
    );
    try {
      expect(sse.response?.statusCode).toBe(200);
      expect(sse.response?.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
      expect(sse.response?.headers["x-content-type-options"]).toBe("nosniff");
      expect(JSON.parse((await sse.next("subscribed")).data)).toEqual({
        event_types: ["trade", "order_book"],
        symbols: ["BTC-USD"],
        sources: ["hyperliquid"],
      });
      const trade = makeTrade({ source: "hyperliquid", symbol: "BTC-USD" });
      const book = makeOrderBook({ source: "hyperliquid", symbol: "BTC-USD" });
      await publishProcessed(publisher, [
        trade,
        makeTrade({ source: "binance", symbol: "BTC-USD" }),
        makeTicker({ source: "hyperliquid", symbol: "BTC-USD" }),
        makeTrade({ source: "hyperliquid", symbol: "ETH-USD" }),
        book,
        makeConnectorStatus({ source: "hyperliquid" }),
      ]);
      const sentinel = makeTrade({ source: "hyperliquid", symbol: "BTC-USD" });
      await settle(() => sse.events(), sentinel);
      expect(ids(sse.events())).toEqual([trade.event_id, book.event_id, sentinel.event_id]);
      expect(sse.messages.filter((m) => m.event === "message").map((m) => m.id)).toEqual(ids(sse.events()));
    } finally {
      sse.close();
    }
  });

  it("answers bad filters and missing keys with JSON errors before streaming", async () => {
    const bad = await getJson(`${gw.url}/v1/stream/sse?event_types=trade,candle&api_key=${KEY}`);
    expect(bad.status).toBe(400);
    expect(ErrorResponse.parse(bad.body).error.message).toContain("'candle'");
    const unknown = await getJson(`${gw.url}/v1/stream/sse?symbol=BTC-USD&api_key=${KEY}`);
    expect(ErrorResponse.parse(unknown.body).error.message).toBe("unknown query parameter 'symbol'");
    expect((await getJson(`${gw.url}/v1/stream/sse`)).status).toBe(401);
  });
});

/** A padded trade, so that socket buffers fill with few events. */
const bigTrade = (symbol = "BTC-USD") =>
  makeTrade({ source: "hyperliquid", symbol, payload: { note: "x".repeat(32_000) } });

/** Publishes batches until `done` holds (bounded: a test must stop by itself). */
async function publishUntil(make: () => StandardEvent, done: () => boolean): Promise<StandardEvent[]> {
  const sent: StandardEvent[] = [];
  for (let batch = 0; batch < 60 && !done(); batch++) {
    sent.push(...(await publishProcessed(publisher, Array.from({ length: 50 }, make))));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (!done()) throw new Error(`still not done after ${sent.length} events`);
  return sent;
}

/** The value of a metric series with these labels (0 while absent). */
async function metric(
  gateway: RunningGateway,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const line = text
    .split("\n")
    .find(
      (l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("slow clients", () => {
  it("cuts off a client that stopped reading while a fast one receives everything", async () => {
    const fast = await TestSocket.open(wsUrl(gw));
    const slow = await TestSocket.open(wsUrl(gw));
    try {
      await fast.request({ action: "subscribe", event_types: ["trade"] }, "subscribed");
      await slow.request({ action: "subscribe", event_types: ["trade"] }, "subscribed");
      const clients = gw.gateway.streamClients;
      slow.tcp!.pause(); // stops reading: its TCP window closes, then the gateway's buffers fill

      const sent = await publishUntil(bigTrade, () => gw.gateway.streamClients < clients);
      const sentinel = bigTrade();
      await settle(() => fast.events(), sentinel);

      expect(ids(fast.events())).toEqual([...ids(sent), sentinel.event_id]);
      expect(fast.closed).toBeUndefined();
      expect(
        await metric(gw, "market_scraper_gateway_stream_disconnects_total", {
          transport: "ws",
          reason: "slow_consumer",
        }),
      ).toBeGreaterThanOrEqual(1);

      // Reading again, the slow client gets what was in flight (a gap-free prefix), then the reason.
      slow.tcp!.resume();
      const closed = await slow.waitClosed();
      expect(closed.code).toBe(1008);
      expect(closed.reason).toMatch(/^SLOW_CONSUMER/);
      const got = ids(slow.events());
      expect(got.length).toBeLessThan(sent.length);
      expect(got).toEqual(ids(sent).slice(0, got.length));
    } finally {
      fast.close();
      slow.close();
    }
  });

  it("cuts off a slow SSE client with an event: close naming the reason", async () => {
    const fast = await TestSse.open(`${gw.url}/v1/stream/sse?event_types=trade&api_key=${KEY}`);
    const slow = await TestSse.open(`${gw.url}/v1/stream/sse?event_types=trade&api_key=${KEY}`);
    try {
      await fast.next("subscribed");
      await slow.next("subscribed");
      const clients = gw.gateway.streamClients;
      slow.response!.pause();
      const sent = await publishUntil(bigTrade, () => gw.gateway.streamClients < clients);
      const sentinel = bigTrade();
      await settle(() => fast.events(), sentinel);
      expect(ids(fast.events())).toEqual([...ids(sent), sentinel.event_id]);

      slow.response!.resume();
      const close = await slow.next("close", 30_000);
      expect(JSON.parse(close.data)).toEqual({
        error: { code: "SLOW_CONSUMER", message: "the client did not read its events fast enough" },
      });
      const got = ids(slow.events());
      expect(got).toEqual(ids(sent).slice(0, got.length));
      await waitFor(() => slow.ended, { message: "the SSE response to end" });
    } finally {
      fast.close();
      slow.close();
    }
  });

  it("with conflate=true keeps a slow client, sending it the latest ticker per symbol", async () => {
    const slow = await TestSocket.open(wsUrl(gw, `api_key=${KEY}&conflate=true`));
    try {
      await slow.request({ action: "subscribe", event_types: ["ticker"] }, "subscribed");
      slow.tcp!.pause();
      const conflated = () =>
        metric(gw, "market_scraper_gateway_stream_conflated_total", { transport: "ws" });
      const before = await conflated();
      let price = 0;
      let last = 0;
      const makeBig = () =>
        makeTicker({
          source: "hyperliquid",
          symbol: ++price % 2 === 0 ? "BTC-USD" : "ETH-USD",
          payload: { price, note: "x".repeat(32_000) },
        });
      const sent: StandardEvent[] = [];
      for (let batch = 0; batch < 60; batch++) {
        sent.push(...(await publishProcessed(publisher, Array.from({ length: 50 }, makeBig))));
        last = await conflated();
        if (last - before > 100) break;
      }
      expect(last - before).toBeGreaterThan(100);
      expect(gw.gateway.streamClients).toBeGreaterThanOrEqual(1);

      slow.tcp!.resume();
      const finalBtc = sent.filter((e) => (e.payload as { symbol: string }).symbol === "BTC-USD").at(-1)!;
      const finalEth = sent.filter((e) => (e.payload as { symbol: string }).symbol === "ETH-USD").at(-1)!;
      await waitFor(
        () =>
          slow.events().some((e) => e.event_id === finalBtc.event_id) &&
          slow.events().some((e) => e.event_id === finalEth.event_id),
        { timeoutMs: 30_000, message: "the latest tickers" },
      );
      expect(slow.closed).toBeUndefined();
      const got = slow.events();
      expect(got.length).toBeLessThan(sent.length);
      // Per symbol, values only move forward: an older value never follows a newer one.
      for (const symbol of ["BTC-USD", "ETH-USD"]) {
        const prices = got
          .filter((e) => (e.payload as { symbol: string }).symbol === symbol)
          .map((e) => (e.payload as { price: number }).price);
        expect(prices).toEqual([...prices].sort((a, b) => a - b));
      }
    } finally {
      slow.close();
    }
  });
});

describe("replicas and shutdown", () => {
  it("gives every replica all events: scaling out is adding gateways", async () => {
    const other = await startGateway(nats.url, {
      config: { GATEWAY_API_KEYS: [{ key: KEY, rateLimit: null }] },
    });
    const a = await TestSocket.open(wsUrl(gw));
    const b = await TestSocket.open(wsUrl(other));
    try {
      await a.request({ action: "subscribe", symbols: ["SOL-USD"] }, "subscribed");
      await b.request({ action: "subscribe", symbols: ["SOL-USD"] }, "subscribed");
      const sent = await publishProcessed(
        publisher,
        Array.from({ length: 20 }, () => makeTrade({ symbol: "SOL-USD" })),
      );
      await waitFor(() => a.events().length === 20 && b.events().length === 20, { message: "both replicas" });
      expect(ids(a.events())).toEqual(ids(sent));
      expect(ids(b.events())).toEqual(ids(sent));
    } finally {
      a.close();
      b.close();
      await other.stop();
    }
  });

  it("drops a WebSocket that stops answering pings, keeps one that answers", async () => {
    const beating = await startGateway(nats.url, { config: { GATEWAY_STREAM_HEARTBEAT: 500 } });
    const silent = await TestSocket.open(wsUrl(beating, ""), { autoPong: false });
    const alive = await TestSocket.open(wsUrl(beating, ""));
    try {
      const closed = await silent.waitClosed();
      expect(closed.code).toBe(1006); // terminated: no close handshake with a dead peer
      expect(
        await metric(beating, "market_scraper_gateway_stream_disconnects_total", {
          reason: "heartbeat_timeout",
        }),
      ).toBe(1);
      expect(await alive.request({ action: "ping" }, "pong")).toEqual({ type: "pong" });
      expect(alive.closed).toBeUndefined();
    } finally {
      alive.close();
      await beating.stop();
    }
  });

  it("refuses clients past GATEWAY_STREAM_MAX_CLIENTS and keeps SSE alive with comments", async () => {
    const small = await startGateway(nats.url, {
      config: { GATEWAY_STREAM_MAX_CLIENTS: 1, GATEWAY_STREAM_HEARTBEAT: 100 },
    });
    const sse = await TestSse.open(`${small.url}/v1/stream/sse`);
    try {
      await sse.next("subscribed");
      await waitFor(() => sse.comments >= 2, { message: "keep-alive comments" });
      const refused = await getJson(`${small.url}/v1/stream/sse`);
      expect(refused.status).toBe(503);
      expect(ErrorResponse.parse(refused.body).error).toMatchObject({ code: "UNAVAILABLE" });
      await expect(TestSocket.open(wsUrl(small, ""))).rejects.toThrow("503");
    } finally {
      sse.close();
      await small.stop();
    }
  });

  it("closes streams with a reason on shutdown and refuses new ones", async () => {
    const leaving = await startGateway(nats.url);
    const socket = await TestSocket.open(wsUrl(leaving, ""));
    await socket.request({ action: "subscribe" }, "subscribed");
    const sse = await TestSse.open(`${leaving.url}/v1/stream/sse`);
    await sse.next("subscribed");

    await leaving.stop();

    expect(await socket.waitClosed()).toEqual({
      code: 1001,
      reason: "SHUTTING_DOWN: the gateway is restarting; reconnect",
    });
    expect(JSON.parse((await sse.next("close")).data)).toEqual({
      error: { code: "SHUTTING_DOWN", message: "the gateway is restarting; reconnect" },
    });
    await waitFor(() => sse.ended, { message: "the SSE response to end" });
    await expect(fetch(`${leaving.url}/healthz`)).rejects.toThrow();
  });
});
