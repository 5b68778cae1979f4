import { describe, expect, it } from "vitest";
import { EventType } from "./event-type.js";
import { StandardEvent, StandardEventSchema, markProcessed, parseTradeFast } from "./standard-event.js";

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
const json = (v: unknown) => JSON.parse(JSON.stringify(v)) as Record<string, unknown>;

/** Valid trade events of several shapes: minimal, processed, extra keys, keys in another order. */
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
  return [full, processed, minimal, extra, reversed];
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
  new Date(0),
  "buy",
  "sell",
  "BUY",
  "trade",
  "ticker",
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
    // Objects built in code: a known key not enumerable, or inherited (for…in does not see either).
    const hidden = { ...json(base), note: "kept by zod" };
    Object.defineProperty(hidden, "source", { value: "hyperliquid", enumerable: false });
    yield hidden;
    yield Object.defineProperty(json(base), "source", { value: "hyperliquid", enumerable: false });
    const { symbol, ...rest } = base.payload as Record<string, unknown>;
    yield { ...json(base), payload: Object.assign(Object.create({ symbol }) as object, rest) };
  }
}

describe("the trade fast path", () => {
  it("says yes only when zod does, and then gives zod's very object (key order included)", () => {
    let accepted = 0;
    let total = 0;
    for (const value of variants()) {
      total++;
      const fast = parseTradeFast(value);
      if (fast === undefined) continue;
      accepted++;
      const zod = StandardEventSchema.safeParse(value);
      if (!zod.success) throw new Error(`fast path accepted what zod refuses: ${JSON.stringify(value)}`);
      expect(fast).toStrictEqual(zod.data);
      expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.data));
    }
    // It must actually carry the valid shapes, not refuse everything.
    expect(total).toBeGreaterThan(2000);
    expect(accepted).toBeGreaterThan(200);
  });

  it("takes every valid base shape and refuses other event types", () => {
    for (const base of bases()) expect(parseTradeFast(base)).toBeDefined();
    expect(parseTradeFast({ ...json(trade), event_type: "ticker" })).toBeUndefined();
  });

  it("leaves the refusals and their messages to zod", () => {
    const bad = { ...json(trade), payload: { ...(json(trade).payload as object), price: "84000.5" } };
    const result = StandardEvent.safeParse(bad);
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.issues.map((i) => i.path)).toEqual(["payload.price"]);
  });
});
