import { describe, expect, it } from "vitest";
import {
  EventType,
  EventValidationError,
  StandardEvent,
  decodeEvent,
  encodeEvent,
  marketEvent,
  markProcessed,
  processedAgeMs,
  subjectFor,
  uuidv7,
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
  it("stamps processed_at and the processing duration from the connector's receipt, returning a copy", () => {
    const seed = JSON.parse(seedTrade) as { payload: object };
    const received = StandardEvent.parse({
      ...seed,
      payload: { ...seed.payload, received_at: "2024-01-15T10:30:00.200Z" },
    });
    const processed = markProcessed(received, new Date("2024-01-15T10:30:00.250Z"));
    expect(processed.processed_at).toBe("2024-01-15T10:30:00.250Z");
    expect(processed.processing_time_ms).toBe(50);
    expect(received.processed_at).toBeUndefined();
    expect(subjectFor(processed)).toBe("processed.trade.hyperliquid.BTC-USD");
  });

  it("does not read a replayed trade's age as processing time; the age is processedAgeMs", () => {
    const now = Date.parse("2024-01-15T10:30:00Z") + 5_368_686_289; // 62 days after the trade
    const replayed = StandardEvent.create({
      event_type: EventType.TRADE,
      source: "hyperliquid",
      payload: {
        symbol: "BTC-USD",
        price: 50000,
        volume: 1.5,
        timestamp: "2024-01-15T10:30:00Z",
        received_at: new Date(now - 3).toISOString(),
      },
    });
    const processed = markProcessed(replayed, now);
    expect(processed.processing_time_ms).toBe(3);
    expect(processedAgeMs(processed)).toBe(5_368_686_289);
    expect(processedAgeMs(replayed)).toBeUndefined();
  });

  it("falls back to the creation time in a UUIDv7 event_id, else null (never the age)", () => {
    const created = Date.parse("2024-01-15T11:00:00.000Z");
    const v7 = { ...decodeEvent(seedTrade), event_id: uuidv7(created) };
    expect(markProcessed(v7, created + 7).processing_time_ms).toBe(7);
    expect(markProcessed(decodeEvent(seedTrade), created).processing_time_ms).toBeNull();
    expect(markProcessed(decodeEvent(seedTrade), created, created - 2).processing_time_ms).toBe(2);
  });
});

describe("timestamps with a UTC offset", () => {
  it("are accepted on input and emitted with Z, sub-second digits kept", () => {
    const event = StandardEvent.parse({
      ...JSON.parse(seedTrade),
      timestamp: "2024-01-15T12:30:00+02:00",
      processed_at: "2024-01-15T05:30:00.123456-05:00",
      payload: { symbol: "BTC-USD", price: 1, volume: 1, timestamp: "2024-01-15T10:30:00+00:00" },
    });
    expect(event.timestamp).toBe("2024-01-15T10:30:00Z");
    expect(event.processed_at).toBe("2024-01-15T10:30:00.123456Z");
    expect(event.payload.timestamp).toBe("2024-01-15T10:30:00Z");
    const created = StandardEvent.create({
      event_type: EventType.OHLCV,
      source: "x",
      payload: {
        symbol: "A-B",
        open: 1,
        high: 1,
        low: 1,
        close: 1,
        volume: 1,
        timestamp: "2024-01-15T10:00:00-01:00",
      },
    });
    expect(created.timestamp).toBe("2024-01-15T11:00:00Z");
    expect(created.payload.timestamp).toBe("2024-01-15T11:00:00Z");
  });

  it("still refuses what is not an ISO-8601 time, naming the field", () => {
    for (const timestamp of [
      "2024-01-15T10:30:00",
      "2024-01-15T10:30:00+0100",
      "2024-01-15T10:30:00+24:00",
    ]) {
      const result = StandardEvent.safeParse({ ...JSON.parse(seedTrade), timestamp });
      expect(result.success, timestamp).toBe(false);
      if (!result.success) expect(result.error.field).toBe("timestamp");
    }
  });
});

describe("StandardEvent.parse of JSON text", () => {
  it("accepts the text as read off the wire, as well as the decoded value", () => {
    expect(StandardEvent.parse(seedTrade)).toEqual(StandardEvent.parse(JSON.parse(seedTrade)));
    expect(StandardEvent.parse(seedOhlcv).event_type).toBe("ohlcv");
    const ok = StandardEvent.safeParse(seedError);
    expect(ok.success && ok.event.event_type).toBe("error");
  });

  it("gives INVALID_JSON for text that is not JSON, and names the field of a bad event", () => {
    expect(() => StandardEvent.parse("{not json")).toThrow(EventValidationError);
    const bad = StandardEvent.safeParse("{not json");
    expect(!bad.success && bad.error.code).toBe("INVALID_JSON");
    const badPrice = StandardEvent.safeParse(seedTrade.replace("50000.00", '"50000"'));
    expect(!badPrice.success && badPrice.error.field).toBe("payload.price");
    expect(!badPrice.success && badPrice.error.code).toBe("INVALID_EVENT");
  });
});

describe("marketEvent: one correlation_id rule for market events", () => {
  const book = { symbol: "BTC-USD", bid: 1, ask: 2, bid_volume: 1, ask_volume: 1 };
  it("an event made alone from its exchange message is correlated with itself", () => {
    const id = uuidv7();
    const event = marketEvent(EventType.ORDER_BOOK, id, "2024-01-15T10:30:00Z", "hyperliquid", book);
    expect(event.correlation_id).toBe(id);
    expect(StandardEvent.parse(event)).toEqual(event);
  });

  it("the events of one message share the first one's id", () => {
    const first = uuidv7();
    const trade = { symbol: "BTC-USD", price: 1, volume: 1, timestamp: "2024-01-15T10:30:00Z" };
    const a = marketEvent(EventType.TRADE, first, trade.timestamp, "hyperliquid", trade);
    const b = marketEvent(EventType.TRADE, uuidv7(), trade.timestamp, "hyperliquid", trade, first);
    expect([a.correlation_id, b.correlation_id]).toEqual([first, first]);
  });
});
