import { EventType, decodeEvent } from "@market-scraper/events";
import { type NatsServerHandle, startNats, waitFor } from "@market-scraper/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsEventBus } from "../src/index.js";
import { describeBusContract, trade } from "./contract-suite.js";

let server: NatsServerHandle;

beforeAll(async () => {
  server = await startNats({ jetstream: true, isolated: true });
});

afterAll(async () => {
  await server?.stop();
});

function create(options: ConstructorParameters<typeof NatsEventBus>[0] = {}) {
  return NatsEventBus.connect({
    servers: server.url,
    connectionOptions: { reconnectTimeWait: 200 },
    ...options,
  });
}

describeBusContract(
  "NatsEventBus (JetStream publishes)",
  () => ({
    create: (options) => create(options),
    outage: { stop: () => server.kill(), start: () => server.start() },
  }),
  { outage: true },
);

describeBusContract(
  "NatsEventBus (core publishes)",
  () => ({ create: (options) => create({ ...options, publishMode: "core" }) }),
  { outage: false },
);

describe("NatsEventBus on the wire", () => {
  it("publishes readable JSON on the contract subject with Nats-Msg-Id, into the MARKET stream", async () => {
    const bus = await create();
    const nc = await connect({ servers: server.url });
    const sub = nc.subscribe("market.trade.wire.>", { max: 1 });
    await nc.flush();
    const event = trade("wire", "PURR/USDC");
    await bus.publish(event);
    await bus.flush();
    for await (const msg of sub) {
      expect(msg.subject).toBe("market.trade.wire.PURR/USDC");
      expect(msg.headers?.get("Nats-Msg-Id")).toBe(event.event_id);
      expect(decodeEvent(msg.data)).toEqual(event);
    }
    const jsm = await jetstreamManager(nc);
    const streams = await jsm.streams.list().next();
    expect(streams.map((s) => s.config.name).sort()).toEqual(["MARKET", "PROCESSED", "SYSTEM"]);
    const market = await jsm.streams.info("MARKET");
    expect(market.config.duplicate_window).toBe(120_000_000_000);
    const stored = await jsm.streams.getMessage("MARKET", { last_by_subj: "market.trade.wire.PURR/USDC" });
    expect(stored?.json()).toEqual(JSON.parse(JSON.stringify(event)));
    await nc.close();
    await bus.close();
  });

  it("stores the dead letter's original bytes on deadletter.<subject> in the SYSTEM stream", async () => {
    const bus = await create({ maxDeliver: 1 });
    await bus.subscribe(
      { sources: ["dlwire"] },
      () => {
        throw new Error("nope");
      },
      { durable: "dlwire" },
    );
    const event = trade("dlwire");
    await bus.publish(event);
    const nc = await connect({ servers: server.url });
    const jsm = await jetstreamManager(nc);
    const stored = await waitFor(() =>
      jsm.streams
        .getMessage("SYSTEM", { last_by_subj: "deadletter.market.trade.dlwire.BTC-USD" })
        .catch(() => null),
    );
    expect(decodeEvent(stored.data)).toEqual(event);
    await nc.close();
    await bus.close();
  });

  it("escapes symbols with dots and spaces and delivers them to exact-symbol filters", async () => {
    const bus = await create();
    const got: string[] = [];
    await bus.subscribe({ event_types: [EventType.TRADE], symbols: ["BRK.B USD"] }, (e) => {
      got.push(e.payload.symbol as string);
    });
    await bus.publish(trade("escape", "BRK.B USD"));
    await bus.publish(trade("escape", "BRK-B"));
    await waitFor(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(["BRK.B USD"]);
    await bus.close();
  });
});
