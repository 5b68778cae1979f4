import { describe, expect, it } from "vitest";
import { z } from "zod";
import { EventValidationError } from "./errors.js";
import { EventType } from "./event-type.js";
import { StandardEvent, StandardEventSchema, markProcessed } from "./standard-event.js";

/*
 * `StandardEvent.parse` / `safeParse` run zod's compiled clone of `StandardEventSchema` (`z.compile`).
 * These tests hold it to the runtime parser's answer on thousands of values of every event type, and fail
 * if zod stops compiling the schema (it would then fall back to the runtime parser silently: correct,
 * but several times slower on every message the bus receives).
 */

const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as Record<string, unknown>;

const trade = StandardEvent.create({
  event_type: EventType.TRADE,
  source: "hyperliquid",
  payload: {
    symbol: "BTC-USD",
    raw_symbol: "BTC",
    price: 84_000.5,
    volume: 0.25,
    timestamp: "2024-01-15T10:30:00.123Z",
    side: "buy",
    trade_id: "123456789",
    received_at: "2024-01-15T10:30:00.130Z",
  },
});

/** One valid event of every other type, with optional fields set. */
const others = [
  StandardEvent.create({
    event_type: EventType.TICKER,
    source: "binance",
    payload: {
      symbol: "BTC-USDT",
      price: 1,
      volume: 2,
      bid: 0.9,
      ask: 1.1,
      timestamp: "2024-01-15T10:30:00Z",
    },
  }),
  StandardEvent.create({
    event_type: EventType.ORDER_BOOK,
    source: "okx",
    payload: {
      symbol: "ETH-USDT",
      bid: 1,
      ask: 2,
      bid_volume: 3,
      ask_volume: 4,
      bids: [[1, 3]],
      asks: [[2, 4]],
    },
  }),
  StandardEvent.create({
    event_type: EventType.OHLCV,
    source: "hyperliquid",
    payload: {
      symbol: "BTC-USD",
      open: 1,
      high: 3,
      low: 0.5,
      close: 2,
      volume: 10,
      timestamp: "2024-01-15T10:30:00+01:00",
      interval: "1m",
      trades: 4,
      closed: true,
    },
  }),
  StandardEvent.create({
    event_type: EventType.ERROR,
    source: "connector-service",
    payload: { error_code: "PARSE_ERROR", message: "bad frame", details: { frame: "x" } },
  }),
  StandardEvent.create({
    event_type: EventType.HEARTBEAT,
    source: "storage-service",
    payload: { service: "storage-service", instance: "a", uptime_s: 3, status: "healthy" },
  }),
  StandardEvent.create({
    event_type: EventType.CONNECTOR_STATUS,
    source: "binance",
    payload: { connector: "binance", status: "connected", previous_status: "connecting", attempt: 0 },
  }),
  StandardEvent.create({
    event_type: EventType.CUSTOM,
    source: "me",
    payload: { name: "thing", data: { any: [1, "x"] } },
  }),
];

/** Valid events of several shapes: minimal, processed, extra keys, keys in another order; every type. */
function bases(): Record<string, unknown>[] {
  const full = json(trade);
  const processed = json(markProcessed(trade, Date.parse("2024-01-15T10:30:01Z")));
  const minimal = json(trade);
  for (const key of ["correlation_id", "parent_event_id", "priority", "processed_at", "processing_time_ms"])
    delete minimal[key];
  const minimalPayload = minimal.payload as Record<string, unknown>;
  for (const key of ["raw_symbol", "received_at", "side", "trade_id"]) delete minimalPayload[key];
  const extra: Record<string, unknown> = { zz: [1, { a: 2 }], ...json(trade), aa: "x" };
  extra.payload = { extra_field: true, ...(extra.payload as object), more: null };
  const reversed = Object.fromEntries(Object.entries(json(processed)).reverse());
  reversed.payload = Object.fromEntries(Object.entries(processed.payload as object).reverse());
  return [full, processed, minimal, extra, reversed, ...others.map(json)];
}

const ISO = [
  "2024-01-15T10:30:00Z",
  "2024-01-15T10:30:00.123456789Z",
  "2024-02-29T00:00:00Z",
  "2024-01-15T10:30:00+01:00",
  "2024-01-15T10:30:00.5-05:30",
];
const BAD_ISO = [
  "2023-02-29T00:00:00Z",
  "2024-01-15T10:30Z",
  "2024-01-15T10:30:00+0100",
  "2024-01-15 10:30:00Z",
  "2024-01-15T24:00:00Z",
];
const GUIDS = [
  "0193f0a0-0000-7000-8000-000000000000",
  "ABCDEF01-2345-6789-ABCD-EF0123456789",
  "00000000-0000-0000-0000-000000000000",
];
const BAD_GUIDS = [
  "0193f0a0-0000-7000-8000-00000000000",
  "0193f0a0000070008000000000000000",
  "g193f0a0-0000-7000-8000-000000000000",
];
const CANDIDATES: unknown[] = [
  undefined,
  null,
  "",
  "x",
  "a".repeat(128),
  "a".repeat(129),
  "🚀".repeat(64),
  "🚀".repeat(65),
  0,
  -0,
  -1,
  1,
  1.5,
  10,
  11,
  2 ** 53,
  2 ** 53 - 1,
  Number.NaN,
  Infinity,
  -Infinity,
  true,
  false,
  [],
  {},
  [1, 2],
  [[1, 2]],
  new Date(0),
  "buy",
  "sell",
  "BUY",
  "trade",
  "ticker",
  "healthy",
  "connected",
  ...ISO,
  ...BAD_ISO,
  ...GUIDS,
  ...BAD_GUIDS,
];
const DELETE = Symbol("delete");

function* variants(): Generator<unknown> {
  for (const base of bases()) {
    yield base;
    const payloadKeys = Object.keys(base.payload as object).concat([
      "side",
      "trade_id",
      "raw_symbol",
      "received_at",
      "timestamp",
      "status",
    ]);
    const eventKeys = Object.keys(base).concat([
      "priority",
      "processed_at",
      "correlation_id",
      "processing_time_ms",
    ]);
    for (const value of [...CANDIDATES, DELETE]) {
      for (const key of eventKeys) {
        const v = json(base);
        if (value === DELETE) delete v[key];
        else v[key] = value;
        yield v;
      }
      for (const key of payloadKeys) {
        const v = json(base);
        const payload = v.payload as Record<string, unknown>;
        if (value === DELETE) delete payload[key];
        else payload[key] = value;
        yield v;
      }
    }
    // Objects that are not plain, and keys a copy could not keep.
    yield Object.assign(Object.create(null) as object, json(base));
    yield Object.assign(new (class Trade {})(), json(base));
    yield JSON.parse(`{"__proto__":{"x":1},${JSON.stringify(base).slice(1)}`);
    yield { ...json(base), payload: JSON.parse(`{"__proto__":1,${JSON.stringify(base.payload).slice(1)}`) };
    yield [base];
    // Objects built in code: a known key not enumerable, or inherited.
    const hidden = { ...json(base), note: "kept by zod" };
    Object.defineProperty(hidden, "source", { value: "hyperliquid", enumerable: false });
    yield hidden;
    yield Object.defineProperty(json(base), "source", { value: "hyperliquid", enumerable: false });
    const { symbol, ...rest } = base.payload as Record<string, unknown>;
    yield { ...json(base), payload: Object.assign(Object.create({ symbol }) as object, rest) };
  }
}

describe("StandardEvent.parse on zod's compiled schema", () => {
  it("zod compiles the whole event schema (else it silently falls back to its slower runtime parser)", () => {
    // `strict` makes zod throw its refusal instead of handing the schema back uncompiled. If this fails
    // after a zod upgrade, read the refusal: a schema change may need another form, or zod may have
    // dropped support for a construct we use.
    expect(() => z.compile(StandardEventSchema, { strict: true })).not.toThrow();
  });

  // ~13,000 values through both parsers (zod builds an error for most): slow on a loaded machine.
  it(
    "gives zod's runtime answer on every value: the same object (key order included), or the same issues",
    {
      timeout: 120_000,
    },
    () => {
      let accepted = 0;
      let total = 0;
      const differences: string[] = [];
      for (const value of variants()) {
        total++;
        const runtime = StandardEventSchema.safeParse(value);
        const ours = StandardEvent.safeParse(value);
        const differ = (what: string) => differences.push(`${what}: ${JSON.stringify(value)}`);
        if (runtime.success) {
          accepted++;
          if (!ours.success) differ("refused what zod accepts");
          else if (ours.event === value) differ("returned its input, not a fresh object");
          else if (JSON.stringify(ours.event) !== JSON.stringify(runtime.data)) differ("another object");
          else expect(ours.event).toStrictEqual(runtime.data);
        } else if (ours.success) {
          differ("accepted what zod refuses");
        } else {
          const want = JSON.stringify(EventValidationError.fromZod(runtime.error).issues);
          if (!(ours.error instanceof EventValidationError) || JSON.stringify(ours.error.issues) !== want)
            differ(`other issues ${JSON.stringify(ours.error.issues)} (zod: ${want})`);
        }
      }
      expect(differences.slice(0, 5)).toEqual([]);
      expect(total).toBeGreaterThan(5000);
      expect(accepted).toBeGreaterThan(500);
    },
  );

  it("parse throws what safeParse reports", () => {
    const bad = { ...json(trade), priority: 11 };
    const result = StandardEvent.safeParse(bad);
    expect(result.success).toBe(false);
    if (!result.success) expect(() => StandardEvent.parse(bad)).toThrow(result.error.message);
  });

  it("names the bad field", () => {
    const bad = { ...json(trade), payload: { ...(json(trade).payload as object), price: "84000.5" } };
    const result = StandardEvent.safeParse(bad);
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.issues.map((i) => i.path)).toEqual(["payload.price"]);
  });
});
