import { type NatsServerHandle, startNats } from "@market-scraper/testkit";
import { AckPolicy, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureStreams, whenStreamExists } from "../src/index.js";

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startNats({ jetstream: true, isolated: true });
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const streamNames = async () => (await jsm.streams.names().next()).sort();

describe("stream ownership", () => {
  it("ensures only the streams it is given (the ones this process owns)", async () => {
    await ensureStreams(jsm, { names: [] });
    expect(await streamNames()).toEqual([]);
    await ensureStreams(jsm, { names: ["MARKET", "SYSTEM"] });
    expect(await streamNames()).toEqual(["MARKET", "SYSTEM"]);
    await ensureStreams(jsm);
    expect(await streamNames()).toEqual(["MARKET", "PROCESSED", "SYSTEM"]);
  });

  it("waits for a stream another process owns, then sets up its consumer", async () => {
    const warnings: object[] = [];
    const consumer = whenStreamExists(
      "LATER",
      () => jsm.consumers.add("LATER", { durable_name: "reader", ack_policy: AckPolicy.Explicit }),
      { logger: { warn: (obj) => warnings.push(obj) }, pollMs: 20 },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(warnings).toEqual([{ stream: "LATER" }]); // once, however long it waits
    await jsm.streams.add({ name: "LATER", subjects: ["later.>"] });
    expect((await consumer).name).toBe("reader");
  });

  it("ends its wait with BUS_CLOSED once its caller stops", async () => {
    let stopped = false;
    let calls = 0;
    const waiting = whenStreamExists(
      "NEVER",
      () => {
        calls++;
        return jsm.streams.info("NEVER");
      },
      { pollMs: 20, stopped: () => stopped },
    );
    await new Promise((resolve) => setTimeout(resolve, 60));
    stopped = true;
    await expect(waiting).rejects.toMatchObject({ code: "BUS_CLOSED" });
    const after = calls;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls).toBe(after);
  });

  it("throws any other failure at once", async () => {
    let calls = 0;
    const failing = whenStreamExists("MARKET", () => {
      calls++;
      return Promise.reject(
        new Error('Permissions Violation for Publish to "$JS.API.CONSUMER.CREATE.MARKET"'),
      );
    });
    await expect(failing).rejects.toThrow(/Permissions Violation/);
    expect(calls).toBe(1);
  });
});
