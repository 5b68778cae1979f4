import { EventType } from "@market-scraper/events";
import { waitFor } from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import { BusError, MemoryEventBus, type MemoryEventBusOptions } from "../src/index.js";
import { Inbox, describeBusContract, trade } from "./contract-suite.js";

// One bus per test stands for "the server": every create() in a test returns it.
let shared: MemoryEventBus | null = null;
describeBusContract(
  "MemoryEventBus",
  () => ({
    async create(options) {
      shared ??= new MemoryEventBus(options);
      return shared;
    },
    reset() {
      shared = null;
    },
  }),
  { outage: false },
);

describe("MemoryEventBus overflow policies", () => {
  function blockedBus(options: MemoryEventBusOptions) {
    const bus = new MemoryEventBus({ queueSize: 2, ...options });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inbox = new Inbox();
    const handler = async (e: Parameters<Inbox["handler"]>[0]) => {
      await gate;
      inbox.events.push(e);
    };
    return { bus, inbox, handler, release };
  }

  it("block (the default): publish waits for space, nothing is dropped", async () => {
    const { bus, inbox, handler, release } = blockedBus({});
    await bus.subscribe(EventType.TRADE, handler);
    const events = Array.from({ length: 6 }, () => trade("mem"));
    let settled = 0;
    const publishes = events.map((e) => bus.publish(e).then(() => settled++));
    await new Promise((r) => setTimeout(r, 20));
    // one in the handler, two queued: the other publishes are waiting
    expect(settled).toBeLessThan(6);
    release();
    await Promise.all(publishes);
    await waitFor(() => inbox.events.length === 6);
    expect(inbox.ids()).toEqual(events.map((e) => e.event_id));
    expect(bus.metrics().dropped).toBe(0);
    await bus.close();
  });

  it("drop-oldest and drop-newest count every drop", async () => {
    for (const overflow of ["drop-oldest", "drop-newest"] as const) {
      const { bus, inbox, handler, release } = blockedBus({ overflow });
      await bus.subscribe(EventType.TRADE, handler);
      const events = Array.from({ length: 6 }, () => trade("mem"));
      await bus.publish(events[0]!); // taken by the handler
      await new Promise((r) => setImmediate(r));
      for (const e of events.slice(1)) await bus.publish(e);
      expect(bus.metrics().dropped).toBe(3);
      release();
      await waitFor(() => inbox.events.length === 3);
      const kept = overflow === "drop-oldest" ? [0, 4, 5] : [0, 1, 2];
      expect(inbox.ids()).toEqual(kept.map((i) => events[i]!.event_id));
      await bus.close();
    }
  });

  it("error: publish rejects with QUEUE_FULL", async () => {
    const { bus, handler, release } = blockedBus({ overflow: "error" });
    await bus.subscribe(EventType.TRADE, handler);
    await bus.publish(trade("mem"));
    await new Promise((r) => setImmediate(r));
    await bus.publish(trade("mem"));
    await bus.publish(trade("mem"));
    const err = await bus.publish(trade("mem")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BusError);
    expect((err as BusError).code).toBe("QUEUE_FULL");
    release();
    await bus.close();
  });

  it("rejects an invalid filter with a typed error", async () => {
    const bus = new MemoryEventBus();
    await expect(bus.subscribe("nope" as EventType, () => undefined)).rejects.toMatchObject({
      code: "INVALID_FILTER",
    });
    await bus.close();
  });
});
