import { describe, expect, it } from "vitest";
import {
  EventType,
  EventValidationError,
  StandardEvent,
  decodeEvent,
  encodeEvent,
  markProcessed,
  subjectFor,
} from "./index.js";

// The three examples of the design document (seed/event-system.md), verbatim.
const seedTrade = `{
  "event_id": "550e8400-e29b-41d4-a716-446655440000",
  "event_type": "trade",
  "timestamp": "2024-01-15T10:30:00Z",
  "source": "hyperliquid",
  "payload": {
    "symbol": "BTC-USD",
    "price": 50000.00,
    "volume": 1.5,
    "timestamp": "2024-01-15T10:30:00Z"
  },
  "correlation_id": "550e8400-e29b-41d4-a716-446655440001",
  "priority": 5
}`;
const seedOhlcv = `{
  "event_id": "550e8400-e29b-41d4-a716-446655440002",
  "event_type": "ohlcv",
  "timestamp": "2024-01-15T10:00:00Z",
  "source": "hyperliquid",
  "payload": {
    "symbol": "BTC-USD",
    "open": 49500.00,
    "high": 50200.00,
    "low": 49300.00,
    "close": 50000.00,
    "volume": 1250.5,
    "timestamp": "2024-01-15T10:00:00Z"
  },
  "priority": 5
}`;
const seedError = `{
  "event_id": "550e8400-e29b-41d4-a716-446655440003",
  "event_type": "error",
  "timestamp": "2024-01-15T10:30:00Z",
  "source": "hyperliquid",
  "payload": {
    "error_code": "RATE_LIMIT",
    "message": "Rate limit exceeded",
    "details": {}
  },
  "priority": 1
}`;

describe("the design document's examples", () => {
  it.each([
    ["trade", seedTrade, "market.trade.hyperliquid.BTC-USD"],
    ["ohlcv", seedOhlcv, "market.ohlcv.hyperliquid.BTC-USD"],
    ["error", seedError, "system.error.hyperliquid"],
  ])("%s parses, round-trips unchanged and maps to %s", (_name, json, subject) => {
    const event = decodeEvent(json);
    expect(JSON.parse(encodeEvent(event).toString("utf8"))).toEqual(JSON.parse(json));
    expect(decodeEvent(encodeEvent(event))).toEqual(event);
    expect(subjectFor(event)).toBe(subject);
  });
});

describe("StandardEvent.create", () => {
  const clock = { now: () => Date.parse("2024-01-15T10:30:01.000Z") };

  it("fills ids, exchange timestamp, priority and correlation id, as in the seed", () => {
    const event = StandardEvent.create(
      {
        event_type: EventType.TRADE,
        source: "hyperliquid",
        payload: { symbol: "BTC-USD", price: 50000, volume: 1.5, timestamp: "2024-01-15T10:30:00Z" },
        priority: 5,
      },
      clock,
    );
    expect(event.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(event.timestamp).toBe("2024-01-15T10:30:00Z");
    expect(event.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.correlation_id).not.toBe(event.event_id);
    expect(event.priority).toBe(5);
    expect(event.parent_event_id).toBeNull();
    expect(event.processed_at).toBeNull();
    expect(event.payload.price).toBe(50000);
  });

  it("defaults error events to priority 1 and others to 5; time to now when the payload has none", () => {
    const error = StandardEvent.create(
      { event_type: EventType.ERROR, source: "x", payload: { error_code: "E", message: "m", details: {} } },
      clock,
    );
    expect(error.priority).toBe(1);
    expect(error.timestamp).toBe("2024-01-15T10:30:01.000Z");
    const beat = StandardEvent.create(
      {
        event_type: EventType.HEARTBEAT,
        source: "svc",
        payload: { service: "svc", instance: "a", uptime_s: 3 },
      },
      clock,
    );
    expect(beat.priority).toBe(5);
  });

  it("keeps a given correlation id and extra payload keys", () => {
    const event = StandardEvent.create({
      event_type: EventType.TICKER,
      source: "hyperliquid",
      payload: { symbol: "ETH-USD", price: 1, volume: 2, bid: 0.9, ask: 1.1, extra_field: "kept" },
      correlation_id: "corr-1",
    });
    expect(event.correlation_id).toBe("corr-1");
    expect(event.payload["extra_field"]).toBe("kept");
  });

  it("throws a typed error naming the bad field", () => {
    const attempt = () =>
      StandardEvent.create({
        event_type: EventType.TRADE,
        source: "hyperliquid",
        payload: {
          symbol: "BTC-USD",
          price: "50000" as unknown as number,
          volume: 1,
          timestamp: "2024-01-15T10:30:00Z",
        },
      });
    expect(attempt).toThrow(EventValidationError);
    try {
      attempt();
    } catch (err) {
      const e = err as EventValidationError;
      expect(e.code).toBe("INVALID_EVENT");
      expect(e.field).toBe("payload.price");
      expect(e.message).toContain("payload.price");
    }
  });
});

describe("StandardEvent.parse", () => {
  const valid = JSON.parse(seedTrade) as Record<string, unknown>;

  it.each([
    [{ ...valid, event_type: "nope" }, "event_type"],
    [{ ...valid, timestamp: "yesterday" }, "timestamp"],
    [{ ...valid, priority: 11 }, "priority"],
    [{ ...valid, event_id: "not-a-uuid" }, "event_id"],
    [{ ...valid, payload: { symbol: "BTC-USD", price: 1, volume: 1 } }, "payload.timestamp"],
    [{ ...valid, payload: { ...(valid["payload"] as object), symbol: "" } }, "payload.symbol"],
    [{ ...valid, source: undefined }, "source"],
  ])("rejects %j naming %s", (input, field) => {
    const result = StandardEvent.safeParse(input);
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.issues.map((i) => i.path)).toContain(field);
  });

  it("rejects non-finite numbers and bad JSON with typed errors", () => {
    expect(() =>
      StandardEvent.parse({ ...valid, payload: { ...(valid["payload"] as object), price: Infinity } }),
    ).toThrow(/payload\.price/);
    expect(() => decodeEvent("{not json")).toThrow(EventValidationError);
    try {
      decodeEvent("{not json");
    } catch (err) {
      expect((err as EventValidationError).code).toBe("INVALID_JSON");
    }
  });

  it("preserves unknown keys in the envelope and payload", () => {
    const event = StandardEvent.parse({
      ...valid,
      extra: 1,
      payload: { ...(valid["payload"] as object), side: "buy", foo: [1] },
    });
    expect(JSON.parse(JSON.stringify(event))).toMatchObject({ extra: 1, payload: { side: "buy", foo: [1] } });
  });
});

describe("markProcessed", () => {
  it("stamps processed_at and the event age, returning a copy", () => {
    const event = decodeEvent(seedTrade);
    const processed = markProcessed(event, new Date("2024-01-15T10:30:00.250Z"));
    expect(processed.processed_at).toBe("2024-01-15T10:30:00.250Z");
    expect(processed.processing_time_ms).toBe(250);
    expect(event.processed_at).toBeUndefined();
    expect(subjectFor(processed)).toBe("processed.trade.hyperliquid.BTC-USD");
  });
});
