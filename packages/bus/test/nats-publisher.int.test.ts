import { type NatsServerHandle, startNats } from "@market-scraper/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backoffDelay } from "../src/backoff.js";
import { createBusMetrics } from "../src/bus-metrics.js";
import type { BusLogger } from "../src/logger.js";
import { NatsPublisher, PUBLISH_RETRY_BACKOFF } from "../src/nats-publisher.js";

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNats({ jetstream: true, isolated: true });
  nc = await connect({ servers: server.url, noAsyncTraces: true });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe("NatsPublisher retries", () => {
  it("waits the one backoff formula (injected randomness) after a failed publish, then stores it", async () => {
    const warnings: Record<string, unknown>[] = [];
    const logger: BusLogger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (obj) => void warnings.push(obj as Record<string, unknown>),
      error: () => undefined,
    };
    const publisher = new NatsPublisher(nc, {
      mode: "jetstream",
      queueSize: 10,
      window: 4,
      timeoutMs: 5000,
      coreMsgId: false,
      logger,
      metrics: createBusMetrics(),
      random: () => 0.5,
    });
    // No stream takes `retry.>` yet: JetStream answers 503, which is worth retrying.
    const sent = publisher.send("retry.one", new TextEncoder().encode("{}"), "retry-1");
    await expect.poll(() => warnings.length).toBe(1);
    expect(warnings[0]).toMatchObject({
      subject: "retry.one",
      retryInMs: backoffDelay(1, PUBLISH_RETRY_BACKOFF, () => 0.5),
      err: { name: "JetStreamPublishError", code: 503 },
    });
    expect(warnings[0]!.retryInMs).toBe(38); // 50 ms less a quarter (half the jitter)
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "RETRY", subjects: ["retry.>"] });
    await sent;
    expect((await jsm.streams.info("RETRY")).state.messages).toBe(1);
    await publisher.close(1000);
  });
});
