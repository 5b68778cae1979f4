import { FakeHyperliquidServer, freePort, waitFor } from "@market-scraper/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ReconnectingWebSocket, type WsCloseInfo } from "./reconnecting-websocket.js";
import { ManualScheduler } from "./scheduler.js";

const SUB = JSON.stringify({ method: "subscribe", subscription: { type: "trades", coin: "BTC" } });

describe("ReconnectingWebSocket (fake Hyperliquid server, manual clock)", () => {
  let fake: FakeHyperliquidServer;
  let scheduler: ManualScheduler;
  let ws: ReconnectingWebSocket | undefined;
  let closes: WsCloseInfo[];
  let frames: string[];

  beforeEach(async () => {
    fake = await FakeHyperliquidServer.start();
    scheduler = new ManualScheduler(1_000_000);
    closes = [];
    frames = [];
  });

  afterEach(async () => {
    await ws?.stop();
    await fake.close();
  });

  function client(
    options: Partial<ConstructorParameters<typeof ReconnectingWebSocket>[0]> = {},
  ): ReconnectingWebSocket {
    ws = new ReconnectingWebSocket({
      url: fake.wsUrl,
      scheduler,
      random: () => 0,
      backoff: { initialMs: 1_000, maxMs: 8_000, jitter: 0.5 },
      listener: { onMessage: (text) => frames.push(text), onClose: (info) => closes.push(info) },
      ...options,
    });
    return ws;
  }

  it("re-subscribes everything after a drop, waiting the backoff delay first", async () => {
    const c = client();
    c.subscribe("trades|BTC|", SUB);
    c.start();
    await waitFor(() => fake.hasSubscription("trades", "BTC"), { message: "first subscription" });
    await waitFor(() => frames.length >= 1, { message: "ack" });

    fake.dropConnections();
    await waitFor(() => closes.length === 1, { message: "close seen" });
    expect(closes[0]).toMatchObject({ cause: "remote", willReconnect: true, attempt: 1, delayMs: 1_000 });
    scheduler.advance(999);
    await new Promise((r) => setTimeout(r, 50));
    expect(fake.connectionsAccepted).toBe(1);
    scheduler.advance(1);
    await waitFor(() => fake.connectionsAccepted === 2 && fake.hasSubscription("trades", "BTC"), {
      message: "re-subscribed",
    });
    expect(c.connections).toBe(2);
  });

  it("backs off exponentially while the server is unreachable, and forever", async () => {
    const port = await freePort();
    const c = client({
      url: `ws://127.0.0.1:${port}/ws`,
      backoff: { initialMs: 100, maxMs: 400, jitter: 0 },
    });
    c.start();
    for (const expected of [100, 200, 400, 400, 400]) {
      await waitFor(() => closes.length > 0 && closes.length === closes.filter(Boolean).length, {
        message: "attempt",
      });
      const last = closes.at(-1)!;
      expect(last.delayMs).toBe(expected);
      const before = closes.length;
      scheduler.advance(expected);
      await waitFor(() => closes.length > before, { message: "next attempt" });
    }
    expect(closes.slice(0, 5).map((c) => c.attempt)).toEqual([1, 2, 3, 4, 5]);
  });

  it("replaces a connection whose stream went silent, per stream", async () => {
    const c = client();
    c.subscribe("trades|BTC|", SUB, 5_000);
    c.start();
    await waitFor(() => c.isOpen && fake.hasSubscription("trades", "BTC"), { message: "open" });
    scheduler.advance(3_000);
    c.touch("trades|BTC|");
    scheduler.advance(4_999);
    expect(closes).toHaveLength(0);
    scheduler.advance(1);
    await waitFor(() => closes.length === 1, { message: "stale close" });
    expect(closes[0]).toMatchObject({ cause: "stale", staleKey: "trades|BTC|" });
  });

  it("replaces a stalled connection (no frame at all) and sends the keepalive", async () => {
    const c = client({
      staleAfterMs: 60_000,
      keepalive: { intervalMs: 20_000, message: '{"method":"ping"}' },
    });
    c.start();
    await waitFor(() => c.isOpen, { message: "open" });
    scheduler.advance(20_000);
    await waitFor(() => frames.includes('{"channel":"pong"}'), { message: "pong" });
    expect(c.lastKeepaliveAt).toBe(scheduler.now());
    fake.stall();
    scheduler.advance(40_000); // the ping at 40 s gets no answer
    expect(closes).toHaveLength(0);
    scheduler.advance(20_000 - 1);
    await new Promise((r) => setTimeout(r, 30));
    expect(closes).toHaveLength(0);
    scheduler.advance(1); // 60 s after the last frame (the pong at 20 s)
    await waitFor(() => closes.length === 1, { message: "stale close" });
    expect(closes[0]).toMatchObject({ cause: "stale", staleKey: undefined });
  });

  it("reconnects proactively at the connection-age limit, without backoff", async () => {
    const c = client({ maxConnectionAgeMs: 3_600_000 });
    c.subscribe("trades|BTC|", SUB);
    c.start();
    await waitFor(() => c.isOpen, { message: "open" });
    scheduler.advance(3_600_000);
    await waitFor(() => closes.length === 1, { message: "age close" });
    expect(closes[0]).toMatchObject({ cause: "max-age", delayMs: 0, attempt: 0 });
    scheduler.advance(0);
    await waitFor(() => fake.connectionsAccepted === 2 && c.isOpen, { message: "new connection" });
  });

  it("stop() closes for good", async () => {
    const c = client();
    c.start();
    await waitFor(() => c.isOpen, { message: "open" });
    await c.stop();
    expect(closes.at(-1)).toMatchObject({ cause: "stopped", willReconnect: false });
    scheduler.advance(60_000);
    await new Promise((r) => setTimeout(r, 30));
    expect(fake.connectionsAccepted).toBe(1);
    expect(fake.openConnections).toBe(0);
  });
});
