import { markProcessed } from "@market-scraper/events";
import { makeTrade } from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import type { EventFrames } from "./event-frames.js";
import { StreamBudget } from "./stream-budget.js";
import { type DisconnectReason, type StreamClient, StreamHub } from "./stream-hub.js";

/** A client that holds `perEvent` more bytes with every event it is offered (0: a fast reader). */
class FakeClient implements StreamClient {
  readonly transport = "ws" as const;
  closedWith: DisconnectReason | undefined;
  terminated = false;
  pendingBytes = 0;

  constructor(
    readonly name: string,
    readonly hub: StreamHub,
    readonly budget: StreamBudget,
    readonly perEvent: number,
  ) {}

  offer(_frames: EventFrames): void {
    if (this.closedWith !== undefined) return;
    this.pendingBytes += this.perEvent;
    this.budget.add(this.perEvent);
  }

  heartbeat(): void {}

  close(reason: DisconnectReason): void {
    this.closedWith = reason;
    this.hub.remove(this, reason);
  }

  terminate(): void {
    this.terminated = true;
    this.budget.add(-this.pendingBytes);
    this.pendingBytes = 0;
    this.hub.gone(this);
  }
}

describe("StreamHub", () => {
  it("counts clients per address and refuses past each limit", () => {
    const hub = new StreamHub({ maxClients: 3, maxPerAddress: 2 });
    const budget = new StreamBudget(1000);
    const client = () => new FakeClient("c", hub, budget, 0);
    expect(hub.add(client(), "a")).toBe(true);
    const second = client();
    expect(hub.add(second, "a")).toBe(true);
    expect(hub.admit("a")).toBe("address_full");
    expect(hub.add(client(), "a")).toBe(false);
    expect(hub.add(client(), "b")).toBe(true);
    expect(hub.admit("c")).toBe("full");
    second.close("client");
    expect([hub.admit("a"), hub.size]).toEqual(["ok", 2]);
    hub.remove(second, "client"); // twice: no effect
    expect(hub.size).toBe(2);
  });

  it("past its memory budget cuts the slowest clients first, then frees the sockets of the cut ones", () => {
    const budget = new StreamBudget(1000);
    const hub = new StreamHub({ maxClients: 10, budget });
    const clients = [
      ["fast", 0],
      ["slow", 40],
      ["slower", 60],
      ["slowest", 100],
    ].map(([name, perEvent]) => new FakeClient(String(name), hub, budget, Number(perEvent)));
    for (const client of clients) hub.add(client, "127.0.0.1");
    const event = markProcessed(makeTrade());
    let events = 0;
    while (clients[3]!.closedWith === undefined) {
      void hub.publish(event);
      events++;
    }
    // 5 events: 200 + 300 + 500 = 1000 bytes, at the budget; the 6th goes over it (1200).
    expect(events).toBe(6);
    const state = clients.map((c) => [c.name, c.closedWith ?? "open", c.terminated]);
    // Down to 900: cutting the slowest (600) is enough, and its socket is destroyed to free them.
    expect(state).toEqual([
      ["fast", "open", false],
      ["slow", "open", false],
      ["slower", "open", false],
      ["slowest", "memory_budget", true],
    ]);
    expect(budget.used).toBe(600);
    while (hub.size > 1) void hub.publish(event);
    expect(clients.map((c) => c.closedWith ?? "open")).toEqual([
      "open",
      "memory_budget",
      "memory_budget",
      "memory_budget",
    ]);
    expect(budget.used).toBeLessThanOrEqual(1000);
  });
});
