import { describe, expect, it } from "vitest";
import {
  EventType,
  EventValidationError,
  StandardEvent,
  deadLetterSubject,
  escapeToken,
  markProcessed,
  parseSubject,
  subjectFor,
  unescapeToken,
} from "./index.js";

describe("token escaping", () => {
  it.each([
    ["BTC-USD", "BTC-USD"],
    ["PURR/USDC", "PURR/USDC"],
    ["@107", "@107"],
    ["BRK.B", "BRK%2EB"],
    ["a b", "a%20b"],
    ["100%", "100%25"],
    ["x*y>z", "x%2Ay%3Ez"],
    ["tab\there", "tab%09here"],
    ["nbsp\u00a0x", "nbsp%C2%A0x"],
  ])("%j ⇄ %j", (raw, token) => {
    expect(escapeToken(raw)).toBe(token);
    expect(unescapeToken(token)).toBe(raw);
  });

  it("round-trips arbitrary strings and never emits NATS-significant characters", () => {
    const samples = ["%2E", "..", "ü.ñ", "日本.円", "a\u2028b", "*", ">", "%", " lead", "trail ", "\u0000"];
    for (const s of samples) {
      const token = escapeToken(s);
      expect(token).not.toMatch(/[.*>\s]/);
      expect(unescapeToken(token)).toBe(s);
    }
  });

  it("rejects an empty token and a broken escape with typed errors", () => {
    expect(() => escapeToken("")).toThrow(EventValidationError);
    expect(() => unescapeToken("%E0%A4%A")).toThrow(EventValidationError);
  });
});

describe("subjectFor / parseSubject", () => {
  const trade = StandardEvent.create({
    event_type: EventType.TRADE,
    source: "hyperliquid",
    payload: { symbol: "BRK.B USD", price: 1, volume: 1, timestamp: "2024-01-15T10:30:00Z" },
  });

  it("maps every stage and reverses it", () => {
    const cases = [
      [trade, "market.trade.hyperliquid.BRK%2EB%20USD"],
      [markProcessed(trade), "processed.trade.hyperliquid.BRK%2EB%20USD"],
      [
        StandardEvent.create({
          event_type: EventType.HEARTBEAT,
          source: "storage-service",
          payload: { service: "storage-service", instance: "a", uptime_s: 1 },
        }),
        "system.heartbeat.storage-service",
      ],
      [
        StandardEvent.create({
          event_type: EventType.CONNECTOR_STATUS,
          source: "hyperliquid",
          payload: { connector: "hyperliquid", status: "connected" },
        }),
        "system.connector_status.hyperliquid",
      ],
      [
        StandardEvent.create({ event_type: EventType.CUSTOM, source: "me", payload: { name: "fills.v2" } }),
        "custom.me.fills%2Ev2",
      ],
    ] as const;
    for (const [event, subject] of cases) {
      expect(subjectFor(event)).toBe(subject);
    }
    expect(parseSubject("market.trade.hyperliquid.BRK%2EB%20USD")).toEqual({
      stage: "market",
      event_type: "trade",
      source: "hyperliquid",
      symbol: "BRK.B USD",
    });
    expect(parseSubject("processed.ohlcv.hyperliquid.BTC-USD")).toMatchObject({
      stage: "processed",
      event_type: "ohlcv",
    });
    expect(parseSubject("system.error.hyperliquid")).toEqual({
      stage: "system",
      event_type: "error",
      source: "hyperliquid",
    });
    expect(parseSubject("custom.me.fills%2Ev2")).toEqual({
      stage: "custom",
      event_type: "custom",
      source: "me",
      name: "fills.v2",
    });
  });

  it("parses dead-letter subjects around their original", () => {
    const subject = deadLetterSubject("market.trade.hyperliquid.BTC-USD");
    expect(subject).toBe("deadletter.market.trade.hyperliquid.BTC-USD");
    expect(parseSubject(subject)).toEqual({
      stage: "deadletter",
      original: "market.trade.hyperliquid.BTC-USD",
      parsed: { stage: "market", event_type: "trade", source: "hyperliquid", symbol: "BTC-USD" },
    });
    expect(parseSubject("deadletter.garbage")).toMatchObject({ stage: "deadletter", parsed: null });
  });

  it.each([
    "",
    "market",
    "market.trade.hyperliquid",
    "market.error.hyperliquid.BTC-USD",
    "market.trade..BTC-USD",
    "system.trade.x",
    "system.error.x.y",
    "other.trade.x.y",
    "custom.x",
    "deadletter",
  ])("rejects %j with a typed error", (subject) => {
    expect(() => parseSubject(subject)).toThrow(EventValidationError);
  });

  it("refuses to put market data in the system stage", () => {
    expect(() => subjectFor(trade, "system")).toThrow(EventValidationError);
  });
});
