import {
  EventType,
  type StandardEvent,
  StandardEvent as Events,
  encodeEvent,
  markProcessed,
  normalizeFilter,
  parseSubject,
  subjectFor,
  subjectMatchesEvent,
} from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { decodeMessage } from "./decode-message.js";

const trade = Events.create({
  event_type: EventType.TRADE,
  source: "hyper liquid.x",
  payload: { symbol: "PURR/USDC", price: 1, volume: 2, timestamp: "2024-01-15T10:30:00Z" },
});
const events: StandardEvent[] = [
  trade,
  markProcessed(trade),
  Events.create({
    event_type: EventType.HEARTBEAT,
    source: "storage-service",
    payload: { service: "storage-service", instance: "a", uptime_s: 1 },
  }),
  Events.create({ event_type: EventType.CUSTOM, source: "me", payload: { name: "a*b" } }),
];
const subjects = [
  ...events.map((e) => subjectFor(e)),
  "market.trade.hyper%20liquid%2Ex.PURR/USDC",
  "market.trade.hyper%20liquid%2Ex.PURR%2FUSDC", // another client's escaping: the same tokens
  "processed.trade.hyper%20liquid%2Ex.PURR%2FUSDC",
  "market.trade.hyper%20liquid%2Ex.BTC-USD",
  "market.ticker.hyper%20liquid%2Ex.PURR/USDC",
  "market.trade.other.PURR/USDC",
  "market.trade.hyper%20liquid%2Ex.PURR/USDC.more",
  "market.trade.hyper%20liquid%2Ex.%ZZ",
  "system.trade.hyper%20liquid%2Ex",
  "system.heartbeat.storage-service",
  "system.heartbeat.storage%2Dservice",
  "system.error.storage-service",
  "custom.me.a%2Ab",
  "custom.me.a*b",
  "custom.me.other",
  "deadletter.market.trade.x.y",
  "nowhere.trade.x.y",
];

/** What `decodeMessage` must answer: the event, or malformed, as the full subject parse says. */
function expected(subject: string, event: StandardEvent): "event" | "malformed" {
  try {
    const stage = subject.slice(0, subject.indexOf("."));
    if (!["market", "processed", "system", "custom"].includes(stage)) return "malformed";
    return subjectMatchesEvent(parseSubject(subject), event) ? "event" : "malformed";
  } catch {
    return "malformed";
  }
}

describe("decodeMessage", () => {
  it("accepts an event exactly on the subjects that name it, however their tokens are escaped", () => {
    const all = normalizeFilter("*");
    let accepted = 0;
    for (const event of events) {
      for (const subject of subjects) {
        const decoded = decodeMessage(subject, encodeEvent(event), all);
        expect([subject, decoded.kind]).toEqual([subject, expected(subject, event)]);
        if (decoded.kind === "event") {
          accepted++;
          expect(decoded.delivery).toEqual({ event, subject });
        } else if (decoded.kind === "malformed" && subject.split(".").length > 2) {
          expect(decoded.error).toMatch(/does not belong|invalid subject|not an event subject/);
        }
      }
    }
    expect(accepted).toBeGreaterThanOrEqual(8);
  });

  it("applies the filter after validation", () => {
    const bytes = encodeEvent(trade);
    const subject = subjectFor(trade);
    expect(decodeMessage(subject, bytes, normalizeFilter(EventType.TICKER)).kind).toBe("filtered");
    expect(decodeMessage(subject, bytes, normalizeFilter(EventType.TRADE)).kind).toBe("event");
    expect(decodeMessage(subject, Buffer.from("{"), normalizeFilter("*"))).toMatchObject({
      kind: "malformed",
      error: expect.stringContaining("invalid JSON") as unknown,
    });
  });
});
