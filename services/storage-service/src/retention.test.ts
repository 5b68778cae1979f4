import { EVENT_TYPES } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { parseRetention } from "./config.js";
import { effectiveRetention } from "./retention.js";

describe("effectiveRetention", () => {
  it("fills unnamed types from * and keeps types without a rule forever", () => {
    const only = effectiveRetention(parseRetention("trade:7d") as Map<string, number>);
    expect([...only.keys()]).toEqual(["trade"]);
    const all = effectiveRetention(parseRetention("trade:7d,*:30d") as Map<string, number>);
    expect(all.size).toBe(EVENT_TYPES.length); // every event type, liquidation and derivative_ticker included
    expect(all.get("liquidation")).toBe(30 * 86_400_000);
    expect(all.get("trade")).toBe(7 * 86_400_000);
    expect(all.get("heartbeat")).toBe(30 * 86_400_000);
  });
});
