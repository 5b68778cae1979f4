import { type StandardEvent, markProcessed } from "@market-scraper/events";
import { type NatsServerHandle, makeTrade, startNats, waitFor } from "@market-scraper/testkit";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, connect, nanos } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  DeadLetterHub,
  DurableConsumer,
  NatsEventBus,
  STAGE_STREAMS,
  createBusMetrics,
  ensureStreams,
  supportsMultiFilter,
} from "../src/index.js";

let server: NatsServerHandle;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  server = await startNats({ jetstream: true, isolated: true });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

afterAll(async () => {
  await server?.stop();
});

async function connection(): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
  cleanups.push(() => nc.close());
  return nc;
}

async function bus(options: ConstructorParameters<typeof NatsEventBus>[0] = {}): Promise<NatsEventBus> {
  const b = await NatsEventBus.connect({
    servers: server.url,
    connectionOptions: { reconnectTimeWait: 100 },
    ...options,
  });
  cleanups.push(() => b.close());
  return b;
}

let sources = 0;
function uniqueSource(): string {
  return `dc${Date.now().toString(36)}${sources++}`;
}

describe("DurableConsumer", () => {
  it("holds messages behind a full publish queue for longer than ack_wait: no redelivery, no dead letter", async () => {
    const nc = await connection();
    const jsm = await jetstreamManager(nc);
    // No PROCESSED stream yet: the handler's publishes are not stored, so they stay in the queue.
    await jsm.streams.delete("PROCESSED").catch(() => undefined);
    const source = uniqueSource();
    const durable = `hold-${source}`;
    const ackWaitMs = 1000;
    const consumerBus = await bus({
      streams: { names: ["MARKET", "SYSTEM"] },
      publishQueueSize: 2,
      publishWindow: 1,
      ackWaitMs,
      maxDeliver: 2,
    });
    const letters: unknown[] = [];
    consumerBus.onDeadLetter((l) => letters.push(l));
    const seen: string[] = [];
    const deliveries = new Map<string, number>();
    await consumerBus.subscribe(
      { stage: "market", sources: [source] },
      async (event: StandardEvent) => {
        seen.push(event.event_id);
        deliveries.set(event.event_id, (deliveries.get(event.event_id) ?? 0) + 1);
        await consumerBus.publish(markProcessed(event));
      },
      { durable },
    );
    const producer = await bus({ streams: { names: ["MARKET", "SYSTEM"] } });
    const sent = Array.from({ length: 20 }, (_, i) => makeTrade({ source, payload: { trade_id: `h-${i}` } }));
    for (const e of sent) await producer.publish(e);
    await producer.flush();
    // The queue is full and the handler waits in `publish`: messages are held, in hand and queued.
    await waitFor(() => seen.length >= 3, { message: "the first events handled" });
    await new Promise((r) => setTimeout(r, 3.5 * ackWaitMs));
    const stuck = await jsm.consumers.info("MARKET", durable);
    expect(seen.length).toBeLessThan(sent.length);
    expect(stuck.num_ack_pending).toBeGreaterThan(0);

    await ensureStreams(jsm, { names: ["PROCESSED"] });
    await waitFor(() => seen.length >= sent.length, { timeoutMs: 20_000, message: "every event handled" });
    await consumerBus.flush();
    await waitFor(async () => (await jsm.consumers.info("MARKET", durable)).num_ack_pending === 0, {
      message: "every message acked",
    });
    const info = await jsm.consumers.info("MARKET", durable);
    expect(info.num_redelivered).toBe(0);
    expect(info.delivered.consumer_seq).toBe(sent.length);
    expect([...deliveries.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(seen)).toEqual(new Set(sent.map((e) => e.event_id)));
    expect(letters).toEqual([]);
    expect(consumerBus.metrics().dead_lettered).toBe(0);
    const system = await jsm.streams.info("SYSTEM", { subjects_filter: "deadletter.>" });
    expect(system.state.subjects ?? {}).toEqual({});
  });

  it("applies a changed ack_wait, max_ack_pending and filter to an existing durable with an update", async () => {
    const nc = await connection();
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm);
    const name = `upd-${uniqueSource()}`;
    await jsm.consumers.add("MARKET", {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(30_000),
      max_ack_pending: 1000,
      filter_subject: "market.trade.>",
    });
    const consumer = new DurableConsumer({
      nc,
      stream: STAGE_STREAMS.market,
      name,
      subjects: ["market.ticker.>"],
      ackWaitMs: 7000,
      maxAckPending: 77,
    });
    await consumer.start();
    cleanups.push(() => consumer.close());
    const info = await jsm.consumers.info("MARKET", name);
    expect(info.config.ack_wait).toBe(nanos(7000));
    expect(info.config.max_ack_pending).toBe(77);
    expect(info.config.filter_subject).toBe("market.ticker.>");
  });

  it("filters several subjects on the server where it can (2.10+), else reads the stream and filters here", async () => {
    const nc = await connection();
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm);
    const source = uniqueSource();
    const name = `multi-${source}`;
    const consumer = new DurableConsumer({
      nc,
      stream: "MARKET",
      name,
      subjects: [`market.trade.${source}.>`, `market.ticker.${source}.>`],
    });
    await consumer.start();
    cleanups.push(() => consumer.close());
    const multi = supportsMultiFilter(nc.info?.version);
    expect(consumer.filterMode).toBe(multi ? "server" : "client");
    const config = (await jsm.consumers.info("MARKET", name)).config;
    if (multi) expect([...(config.filter_subjects ?? [])].sort()).toEqual(consumer.subjects.slice().sort());
    else expect(config.filter_subject ?? "").toBe("");

    const producer = await bus();
    const trade = makeTrade({ source });
    await producer.publish(trade);
    await producer.publishRaw(`market.order_book.${source}.BTC-USD`, new TextEncoder().encode("{}"));
    await producer.publishRaw(`market.ticker.${source}.BTC-USD`, new TextEncoder().encode("{}"));
    await producer.flush();
    const got: string[] = [];
    await waitFor(
      () => {
        for (let m = consumer.shift(); m !== undefined; m = consumer.shift()) {
          got.push(m.subject);
          consumer.ack(m);
        }
        return got.length >= 2;
      },
      { message: "the trade and the ticker" },
    );
    await new Promise((r) => setTimeout(r, 300));
    for (let m = consumer.shift(); m !== undefined; m = consumer.shift()) got.push(m.subject);
    expect(got.sort()).toEqual([`market.ticker.${source}.BTC-USD`, `market.trade.${source}.BTC-USD`]);
  });

  it("dead-letters through the hub: original bytes on deadletter.<subject>, an error event, then term", async () => {
    const nc = await connection();
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm);
    const source = uniqueSource();
    const metrics = createBusMetrics();
    const silent = { debug() {}, info() {}, warn() {}, error() {} };
    const hub = new DeadLetterHub(silent, metrics, "dc-test");
    const producer = await bus();
    const js = jetstream(nc);
    const consumer = new DurableConsumer({
      nc,
      stream: "MARKET",
      name: `dl-${source}`,
      subjects: [`market.trade.${source}.>`],
      deadLetters: {
        hub,
        send: async (subject, data, msgId) => {
          await js.publish(subject, data, msgId === undefined ? {} : { msgID: msgId });
        },
      },
    });
    await consumer.start();
    cleanups.push(() => consumer.close());
    await producer.publishRaw(`market.trade.${source}.BTC-USD`, new TextEncoder().encode("not json"));
    await producer.flush();
    await consumer.waitForMessage();
    const msg = consumer.shift()!;
    expect(await consumer.deadLetter(msg, { reason: "MALFORMED", error: "bad" })).toBe(true);
    expect(metrics.dead_lettered).toBe(1);
    expect(consumer.held).toBe(0);
    await waitFor(async () => (await jsm.consumers.info("MARKET", `dl-${source}`)).num_ack_pending === 0);
  });

  it("resumes after a nats-server restart and loses nothing", async () => {
    const restartable = await startNats({ jetstream: true, isolated: true });
    cleanups.push(() => restartable.stop());
    const nc = await connect({ servers: restartable.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    cleanups.push(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm);
    const consumer = new DurableConsumer({ nc, stream: "MARKET", name: "restart", subjects: ["market.>"] });
    await consumer.start();
    cleanups.push(() => consumer.close());
    const producer = await NatsEventBus.connect({
      servers: restartable.url,
      connectionOptions: { reconnectTimeWait: 100 },
    });
    cleanups.push(() => producer.close());
    const got = new Set<number>();
    const drain = () => {
      for (let m = consumer.shift(); m !== undefined; m = consumer.shift()) {
        got.add(m.seq);
        consumer.ack(m);
      }
    };
    for (let i = 0; i < 10; i++) await producer.publish(makeTrade({ payload: { trade_id: `a-${i}` } }));
    await producer.flush();
    await waitFor(() => (drain(), got.size >= 10));
    await restartable.restart();
    for (let i = 0; i < 10; i++) await producer.publish(makeTrade({ payload: { trade_id: `b-${i}` } }));
    await producer.flush();
    await waitFor(() => (drain(), got.size >= 20), {
      timeoutMs: 20_000,
      message: "messages after the restart",
    });
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});
