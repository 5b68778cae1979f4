import { MemoryEventBus } from "@market-scraper/bus";
import { makeTrade, makeTrades } from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import { waitForIdle } from "./wait-for-idle.js";

describe("waitForIdle", () => {
  it("resolves once the events handed to subscribers have been worked through", async () => {
    const bus = new MemoryEventBus();
    const handled: string[] = [];
    await bus.subscribe("*", async (event) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      handled.push(event.event_id);
    });
    const trades = makeTrades(50);
    for (const trade of trades) await bus.publish(trade);
    expect(await waitForIdle(bus, { idleMs: 20 })).toBe(true);
    expect(handled).toEqual(trades.map((t) => t.event_id));
    await bus.close();
  });

  it("gives up (false) while the bus never goes quiet", async () => {
    const bus = new MemoryEventBus();
    let publishing = true;
    const loop = (async () => {
      while (publishing) {
        await bus.publish(makeTrade());
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    expect(await waitForIdle(bus, { idleMs: 200, timeoutMs: 100 })).toBe(false);
    publishing = false;
    await loop;
    await bus.close();
  });
});
