import { afterEach, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { FakeHyperliquidServer } from "./fake-hyperliquid-server.js";
import { waitFor } from "./wait-for.js";

interface Client {
  socket: WebSocket;
  frames: unknown[];
  texts: string[];
  closed: { code: number } | undefined;
}

async function open(url: string): Promise<Client> {
  const socket = new WebSocket(url);
  const client: Client = { socket, frames: [], texts: [], closed: undefined };
  socket.on("message", (data) => {
    const text = (data as Buffer).toString("utf8");
    client.texts.push(text);
    try {
      client.frames.push(JSON.parse(text));
    } catch {
      client.frames.push(text);
    }
  });
  socket.on("close", (code) => (client.closed = { code }));
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  return client;
}

const send = (client: Client, frame: unknown): void => client.socket.send(JSON.stringify(frame));
const subscribe = (client: Client, subscription: Record<string, unknown>): void =>
  send(client, { method: "subscribe", subscription });

describe("FakeHyperliquidServer", () => {
  let fake: FakeHyperliquidServer;
  let clients: Client[];

  beforeEach(async () => {
    fake = await FakeHyperliquidServer.start();
    clients = [];
  });
  afterEach(async () => {
    for (const c of clients) c.socket.terminate();
    await fake.close();
  });

  async function client(): Promise<Client> {
    const c = await open(fake.wsUrl);
    clients.push(c);
    return c;
  }

  it("acks subscriptions (defaults filled in), answers ping, and streams the documented frames", async () => {
    const c = await client();
    subscribe(c, { type: "l2Book", coin: "BTC" });
    subscribe(c, { type: "candle", coin: "BTC", interval: "1m" });
    send(c, { method: "ping" });
    await waitFor(() => c.frames.length === 3, { message: "acks and pong" });
    expect(c.frames).toEqual([
      {
        channel: "subscriptionResponse",
        data: {
          method: "subscribe",
          subscription: { nSigFigs: null, mantissa: null, type: "l2Book", coin: "BTC" },
        },
      },
      {
        channel: "subscriptionResponse",
        data: { method: "subscribe", subscription: { type: "candle", coin: "BTC", interval: "1m" } },
      },
      { channel: "pong" },
    ]);
    fake.pushBook(
      "BTC",
      [{ px: "1.0", sz: "2.0", n: 1 }],
      [{ px: "1.1", sz: "3.0", n: 2 }],
      1_700_000_000_000,
    );
    const candle = {
      t: 1,
      T: 60_000,
      s: "BTC",
      i: "1m",
      o: "1.0",
      c: "1.1",
      h: "1.2",
      l: "0.9",
      v: "10.0",
      n: 3,
    };
    fake.pushCandle(candle);
    fake.pushBook("ETH", [], [], 1); // nobody subscribed
    await waitFor(() => c.frames.length === 5, { message: "data" });
    expect(c.frames[3]).toEqual({
      channel: "l2Book",
      data: {
        coin: "BTC",
        time: 1_700_000_000_000,
        levels: [[{ px: "1.0", sz: "2.0", n: 1 }], [{ px: "1.1", sz: "3.0", n: 2 }]],
      },
    });
    expect(c.frames[4]).toEqual({ channel: "candle", data: candle }); // one object, numbers as strings
  });

  it("re-sends recent trades after a subscribe, as the real server does", async () => {
    const trade = { coin: "BTC", side: "B" as const, px: "1.0", sz: "1.0", time: 1, hash: "0x0", tid: 1 };
    fake.pushTrades([trade]);
    const c = await client();
    subscribe(c, { type: "trades", coin: "BTC" });
    await waitFor(() => c.frames.length === 2, { message: "ack + snapshot" });
    expect(c.frames[1]).toEqual({ channel: "trades", data: [trade] });
  });

  it("answers bad requests with error frames and closes the socket on an unknown coin", async () => {
    const c = await client();
    subscribe(c, { type: "bbo", coin: ["BTC", "ETH"] });
    subscribe(c, { type: "trades", coin: "BTC" });
    subscribe(c, { type: "trades", coin: "BTC" });
    c.socket.send("hello?");
    await waitFor(() => c.frames.length === 4, { message: "errors" });
    expect(c.frames[0]).toMatchObject({
      channel: "error",
      data: expect.stringMatching(/^Error parsing JSON into valid websocket request: /),
    });
    expect(c.frames[2]).toEqual({
      channel: "error",
      data: 'Already subscribed: {"type":"trades","coin":"BTC"}',
    });
    expect(c.frames[3]).toEqual({
      channel: "error",
      data: "Error parsing JSON into valid websocket request: hello?",
    });
    subscribe(c, { type: "l2Book", coin: "NOPE" });
    await waitFor(() => c.closed !== undefined, { message: "socket closed" });
    expect(c.closed?.code).toBe(1006);
  });

  it("injects faults: drop, stall, garbage", async () => {
    const a = await client();
    subscribe(a, { type: "trades", coin: "BTC" });
    await waitFor(() => a.frames.length === 1, { message: "ack" });
    fake.sendRaw("garbage{");
    fake.sendRaw('{"channel":"unknownChannel","data":{}}');
    await waitFor(() => a.texts.length === 3, { message: "garbage" });
    expect(a.texts.slice(1)).toEqual(["garbage{", '{"channel":"unknownChannel","data":{}}']);

    fake.stall();
    send(a, { method: "ping" });
    fake.pushTrades([{ coin: "BTC", side: "A", px: "1", sz: "1", time: 1, hash: "0x0", tid: 2 }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.texts).toHaveLength(3);
    fake.resume();
    send(a, { method: "ping" });
    await waitFor(() => a.texts.length === 4, { message: "pong after resume" });

    fake.dropConnections();
    await waitFor(() => a.closed !== undefined && fake.openConnections === 0, { message: "dropped" });
    expect(fake.connectionsAccepted).toBe(1);
  });

  it("serves POST /info: meta, spotMeta, candleSnapshot, and scripted 429s", async () => {
    const post = async (body: unknown) => {
      const response = await fetch(`${fake.restUrl}/info`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      return {
        status: response.status,
        retryAfter: response.headers.get("retry-after"),
        body: await response.text(),
      };
    };
    const meta = JSON.parse((await post({ type: "meta" })).body) as { universe: { name: string }[] };
    expect(meta.universe.map((u) => u.name)).toEqual(["BTC", "ETH", "SOL", "kPEPE"]);
    const spot = JSON.parse((await post({ type: "spotMeta" })).body) as {
      universe: { name: string; tokens: number[] }[];
    };
    expect(spot.universe).toContainEqual(expect.objectContaining({ name: "@107", tokens: [150, 0] }));

    for (const t of [0, 60_000, 120_000]) {
      fake.pushCandle(
        { t, T: t + 59_999, s: "BTC", i: "1m", o: "1", c: "1", h: "1", l: "1", v: "1", n: 1 },
        { broadcast: false },
      );
    }
    const candles = JSON.parse(
      (
        await post({
          type: "candleSnapshot",
          req: { coin: "BTC", interval: "1m", startTime: 60_000, endTime: 200_000 },
        })
      ).body,
    ) as { t: number }[];
    expect(candles.map((c) => c.t)).toEqual([60_000, 120_000]);

    fake.failRest(1, 429, 2);
    expect(await post({ type: "meta" })).toEqual({ status: 429, retryAfter: "2", body: "null" });
    expect((await post({ type: "meta" })).status).toBe(200);
    expect((await post({ type: "bogus" })).status).toBe(422);
    expect(fake.restRequests.map((r) => r.status)).toEqual([200, 200, 200, 429, 200, 422]);
  });
});
