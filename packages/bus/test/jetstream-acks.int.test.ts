import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NatsServerHandle, startNats, waitFor } from "@market-scraper/testkit";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBusMetrics } from "../src/bus-metrics.js";
import { NatsEventBus } from "../src/index.js";
import { silentLogger } from "../src/logger.js";
import { NatsPublisher } from "../src/nats-publisher.js";
import { type AckCallback, JetStreamAcks, JetStreamPublishError } from "../src/jetstream-acks.js";
import { trade } from "./contract-suite.js";

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startNats({ jetstream: true, isolated: true });
  nc = await connect({ servers: server.url, noAsyncTraces: true });
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "ACKS", subjects: ["acks.>"], duplicate_window: 60_000_000_000 });
  await jsm.streams.add({ name: "SMALL", subjects: ["small.>"], max_msg_size: 64 });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** Publishes through `acks` and resolves with what `done` was called with (`undefined` = stored). */
function publish(acks: JetStreamAcks, subject: string, body: string, msgId?: string): Promise<unknown> {
  return new Promise((resolve) => {
    const done: AckCallback = (error) => resolve(error);
    acks.publish(subject, new TextEncoder().encode(body), msgId, done);
  });
}

describe("JetStreamAcks", () => {
  it("acks a stored message, keeps Nats-Msg-Id, and acks a duplicate without storing it twice", async () => {
    const acks = new JetStreamAcks(nc, 5000);
    const results = await Promise.all([
      publish(acks, "acks.one", '{"n":1}', "id-1"),
      publish(acks, "acks.one", '{"n":1}', "id-1"),
      publish(acks, "acks.two", '{"n":2}'),
    ]);
    expect(results).toEqual([undefined, undefined, undefined]);
    expect(acks.pending).toBe(0);
    const info = await jsm.streams.info("ACKS");
    expect(info.state.messages).toBe(2);
    const stored = await jsm.streams.getMessage("ACKS", { seq: 1 });
    expect(stored?.header.get("Nats-Msg-Id")).toBe("id-1");
    acks.close(new Error("closed"));
  });

  it("fails a publish no stream takes with a retryable 503", async () => {
    const acks = new JetStreamAcks(nc, 5000);
    const error = await publish(acks, "nostream.x", "{}");
    expect(error).toBeInstanceOf(JetStreamPublishError);
    expect((error as JetStreamPublishError).code).toBe(503);
    expect((error as JetStreamPublishError).retryable).toBe(true);
    expect((error as Error).message).toContain("nostream.x");
    acks.close(new Error("closed"));
  });

  it("fails a publish the stream refuses with the server's error, not retryable", async () => {
    const acks = new JetStreamAcks(nc, 5000);
    const error = await publish(acks, "small.x", JSON.stringify({ pad: "x".repeat(200) }));
    expect(error).toBeInstanceOf(JetStreamPublishError);
    expect((error as JetStreamPublishError).retryable).toBe(false);
    expect((error as Error).message).toMatch(/small\.x.*maximum/i);
    acks.close(new Error("closed"));
  });

  it("times out a publish nobody acks with a retryable 408", async () => {
    // A plain subscriber takes the message (so no 503) and never answers.
    const silent = nc.subscribe("silent.x");
    const acks = new JetStreamAcks(nc, 200);
    const error = await publish(acks, "silent.x", "{}");
    expect(error).toBeInstanceOf(JetStreamPublishError);
    expect((error as JetStreamPublishError).code).toBe(408);
    expect((error as JetStreamPublishError).retryable).toBe(true);
    expect(acks.pending).toBe(0);
    silent.unsubscribe();
    acks.close(new Error("closed"));
  });

  it("fails a publish after close at once", async () => {
    const acks = new JetStreamAcks(nc, 60_000);
    const reason = new Error("closed for good");
    acks.close(reason);
    expect(await publish(acks, "acks.late", "{}")).toBe(reason);
    expect(acks.pending).toBe(0);
  });

  it("drops a backlog on a closed connection one by one, without recursing through it", async () => {
    const closed = await connect({ servers: server.url, noAsyncTraces: true });
    const metrics = createBusMetrics();
    const publisher = new NatsPublisher(closed, {
      mode: "jetstream",
      queueSize: 20_000,
      window: 256,
      timeoutMs: 5000,
      coreMsgId: false,
      logger: silentLogger,
      metrics,
    });
    // The owner of a shared connection closed it first; the publisher still thinks it is connected.
    await closed.close();
    const data = new TextEncoder().encode("{}");
    for (let i = 0; i < 15_000; i++) {
      await publisher.enqueue({
        subject: "acks.backlog",
        data,
        msgId: `b-${i}`,
        attempts: 0,
        done: undefined,
      });
    }
    await publisher.flush();
    expect(metrics.dropped).toBe(15_000);
  });

  it("fails pending publishes on close and a publish the client refuses at once", async () => {
    const silent = nc.subscribe("silent.y");
    const acks = new JetStreamAcks(nc, 60_000);
    const pending = publish(acks, "silent.y", "{}");
    let calledBack = false;
    acks.publish("bad subject", new TextEncoder().encode("{}"), undefined, () => (calledBack = true));
    expect(calledBack).toBe(false); // never from inside publish
    expect(await publish(acks, "bad subject", "{}")).toBeInstanceOf(Error);
    expect(calledBack).toBe(true);
    expect(acks.pending).toBe(1);
    const reason = new Error("closing");
    acks.close(reason);
    expect(await pending).toBe(reason);
    silent.unsubscribe();
  });
});

describe("NatsPublisher across a reconnect", () => {
  it("sends the publishes whose acks the old connection lost again at the reconnect, not at their timeout", async () => {
    const own = await startNats({ jetstream: true, isolated: true });
    const conn = await connect({
      servers: own.url,
      noAsyncTraces: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    try {
      const manager = await jetstreamManager(conn);
      await manager.streams.add({ name: "LOST", subjects: ["lost.>"], duplicate_window: 60_000_000_000 });
      const seen: string[] = [];
      void (async () => {
        for await (const s of conn.status()) seen.push(s.type);
      })();
      const metrics = createBusMetrics();
      const publisher = new NatsPublisher(conn, {
        mode: "jetstream",
        queueSize: 1000,
        window: 256,
        timeoutMs: 600_000, // an ack timeout never reached in this test
        coreMsgId: false,
        logger: silentLogger,
        metrics,
      });
      await own.kill();
      await waitFor(() => seen.includes("disconnect"), { message: "the disconnect" });
      // Sent before the publisher hears of the outage: into the client's buffer, dropped at the reconnect.
      const data = new TextEncoder().encode("{}");
      const sent = conn.stats().outMsgs;
      for (let i = 0; i < 50; i++) {
        await publisher.enqueue({
          subject: "lost.x",
          data,
          msgId: `lost-${i}`,
          attempts: 0,
          done: undefined,
        });
      }
      await waitFor(() => conn.stats().outMsgs === sent + 50, { message: "the publishes in flight" });
      publisher.setConnected(false); // as NatsEventBus does on the disconnect status, here late
      await own.start();
      await waitFor(() => seen.includes("reconnect"), { timeoutMs: 20_000, message: "the reconnect" });
      publisher.setConnected(true); // and on the reconnect status
      await waitFor(() => publisher.pending === 0, {
        timeoutMs: 30_000,
        message: "the lost publishes sent again and acknowledged (their ack timeout is 10 minutes)",
      });
      const info = await manager.streams.info("LOST");
      expect(info.state.messages).toBe(50);
      expect(metrics.dropped).toBe(0);
      await publisher.close(1000);
    } finally {
      await conn.close();
      await own.stop();
    }
  });
});

describe("NatsEventBus publishes refused by permissions", () => {
  let authServer: NatsServerHandle;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "acks-auth-"));
    const config = join(dir, "nats.conf");
    writeFileSync(
      config,
      `authorization {
        users = [
          { user: "limited", password: "limited-pw", permissions: {
              publish: { allow: ["system.>", "$JS.API.>", "_INBOX.>"] },
              subscribe: { allow: ["_INBOX.>"] } } },
          { user: "prefixed", password: "prefixed-pw", permissions: {
              publish: { allow: ["system.>", "$JS.API.>"] },
              subscribe: { allow: ["_INBOX_app.>"] } } },
          { user: "deaf", password: "deaf-pw", permissions: {
              publish: { allow: ["system.>"] },
              subscribe: { deny: [">"] } } }
        ]
      }\n`,
    );
    authServer = await startNats({ jetstream: true, isolated: true, args: ["-c", config] });
  });

  afterAll(async () => {
    await authServer?.stop();
  });

  it("takes acks under the connection's inbox prefix, and does not start when it may not subscribe to any", async () => {
    const prefixed = await NatsEventBus.connect({
      servers: authServer.url,
      connectionOptions: { user: "prefixed", pass: "prefixed-pw", inboxPrefix: "_INBOX_app" },
    });
    await prefixed.publishRaw("system.custom.test", new TextEncoder().encode("{}"));
    await prefixed.flush();
    expect(prefixed.metrics().dropped).toBe(0);
    await prefixed.close();

    // A bus that may not subscribe to its ack inbox could never confirm a publish: it does not start.
    const deaf: unknown = await NatsEventBus.connect({
      servers: authServer.url,
      connectionOptions: { user: "deaf", pass: "deaf-pw" },
      ensureStreams: false,
    }).catch((e: unknown) => e);
    expect(deaf).toBeInstanceOf(Error);
    expect((deaf as Error).message).toMatch(/ack subscription.*permission/i);
  });

  it("drops a refused publish at once (not at its ack timeout) and goes on publishing what is allowed", async () => {
    const admin = await NatsEventBus.connect({
      servers: authServer.url,
      connectionOptions: { user: "limited", pass: "limited-pw" },
      publishTimeoutMs: 120_000,
    }).catch((err: unknown) => err);
    // The limited user may create streams through $JS.API; if the server refused, say why.
    expect(admin).toBeInstanceOf(NatsEventBus);
    const bus = admin as NatsEventBus;
    // publish() resolves once queued; the refusal shows as a dropped message once flushed.
    await bus.publish(trade("BTC-USD"));
    await bus.flush();
    expect(bus.metrics().dropped).toBe(1);
    await bus.publishRaw("system.custom.test", new TextEncoder().encode("{}"));
    await bus.flush();
    expect(bus.metrics().dropped).toBe(1);
    await bus.close();
  });
});

describe("NatsEventBus whose ack subscription the server refuses", () => {
  let limited: NatsServerHandle;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "acks-maxsubs-"));
    const config = join(dir, "nats.conf");
    writeFileSync(config, "max_subscriptions: 1\n");
    limited = await startNats({ jetstream: true, isolated: true, args: ["-c", config] });
  });

  afterAll(async () => {
    await limited?.stop();
  });

  it("does not start (maximum subscriptions exceeded) rather than time out every publish", async () => {
    const conn = await connect({ servers: limited.url, noAsyncTraces: true });
    conn.subscribe("taken.the.only.one");
    const error: unknown = await NatsEventBus.connect({ connection: conn, ensureStreams: false }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/ack subscription.*maximum subscriptions/i);
    await conn.close();
  });
});
