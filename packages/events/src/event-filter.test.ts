import { describe, expect, it } from "vitest";
import {
  EventType,
  EventValidationError,
  StandardEvent,
  markProcessed,
  matchesFilter,
  normalizeFilter,
  subjectFor,
  subjectMatchesPattern,
  subjectsForFilter,
  type EventFilter,
} from "./index.js";

const trade = (source: string, symbol: string) =>
  StandardEvent.create({
    event_type: EventType.TRADE,
    source,
    payload: { symbol, price: 1, volume: 1, timestamp: "2024-01-15T10:30:00Z" },
  });
const error = StandardEvent.create({
  event_type: EventType.ERROR,
  source: "hl",
  payload: { error_code: "X", message: "m", details: {} },
});
const custom = StandardEvent.create({ event_type: EventType.CUSTOM, source: "hl", payload: { name: "n" } });
const events = [
  trade("hl", "BTC-USD"),
  trade("hl", "ETH-USD"),
  trade("bn", "BTC-USD"),
  markProcessed(trade("hl", "BTC-USD")),
  error,
  custom,
];

describe("filters", () => {
  it.each<[string, EventFilter, number[]]>([
    ["a type", EventType.TRADE, [0, 1, 2, 3]],
    ["a list", [EventType.ERROR, EventType.CUSTOM], [4, 5]],
    ["everything", "*", [0, 1, 2, 3, 4, 5]],
    ["a stage", { stage: "market" }, [0, 1, 2]],
    ["stages and symbols", { stage: ["market", "processed"], symbols: ["BTC-USD"] }, [0, 2, 3]],
    ["sources", { sources: ["hl"] }, [0, 1, 3, 4, 5]],
    ["types and sources", { event_types: [EventType.TRADE], sources: ["bn"] }, [2]],
    ["symbols exclude system events", { symbols: ["BTC-USD", "ETH-USD"] }, [0, 1, 2, 3]],
  ])("%s", (_name, filter, expected) => {
    const normalized = normalizeFilter(filter);
    const matched = events.flatMap((e, i) => (matchesFilter(normalized, e) ? [i] : []));
    expect(matched).toEqual(expected);
    // The subjects a transport subscribes to must carry at least every matching event.
    const subjects = subjectsForFilter(normalized);
    for (const i of expected) {
      expect(subjects.some((p) => subjectMatchesPattern(subjectFor(events[i]!), p))).toBe(true);
    }
  });

  it("derives narrow subjects where it can and widens large filters", () => {
    expect(subjectsForFilter(normalizeFilter("*"))).toEqual([
      "market.>",
      "processed.>",
      "system.>",
      "custom.>",
    ]);
    expect(
      subjectsForFilter(
        normalizeFilter({ stage: "market", event_types: ["trade"], sources: ["hl"], symbols: ["A.B"] }),
      ),
    ).toEqual(["market.trade.hl.A%2EB"]);
    expect(subjectsForFilter(normalizeFilter({ stage: "system", sources: ["s"] }))).toEqual(["system.*.s"]);
    const many = Array.from({ length: 100 }, (_, i) => `S${i}`);
    expect(subjectsForFilter(normalizeFilter({ stage: "market", symbols: many }))).toEqual(["market.>"]);
  });

  it("rejects unknown types and stages with typed errors", () => {
    expect(() => normalizeFilter("nope" as EventType)).toThrow(EventValidationError);
    expect(() => normalizeFilter({ stage: "nope" as "market" })).toThrow(EventValidationError);
    expect(() => normalizeFilter({ event_types: ["trade", "bad" as EventType] })).toThrow(/bad/);
  });

  it("matches NATS wildcards like the server", () => {
    expect(subjectMatchesPattern("market.trade.hl.BTC", "market.>")).toBe(true);
    expect(subjectMatchesPattern("market", "market.>")).toBe(false);
    expect(subjectMatchesPattern("market.trade.hl.BTC", "market.*.hl.*")).toBe(true);
    expect(subjectMatchesPattern("market.trade.hl.BTC", "market.*.hl")).toBe(false);
  });
});
