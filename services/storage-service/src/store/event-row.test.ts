import { markProcessed } from "@market-scraper/events";
import { makeHeartbeat, makeOhlcv, makeTrade } from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { eventRow, isoToMicros, microsToApiIso, microsToIso } from "./event-row.js";
import { StoreError } from "./store-error.js";

describe("event rows", () => {
  it("converts ISO timestamps to exact microseconds and back", () => {
    expect(isoToMicros("1970-01-01T00:00:00Z")).toBe(0);
    expect(isoToMicros("2024-01-15T10:30:00.123456789Z")).toBe(
      Date.parse("2024-01-15T10:30:00.123Z") * 1000 + 456,
    );
    expect(isoToMicros("2024-01-15T10:30Z")).toBe(Date.parse("2024-01-15T10:30:00Z") * 1000);
    expect(isoToMicros("2024-01-15T10:30:00+01:00")).toBeUndefined();
    expect(microsToIso(Date.parse("2024-01-15T10:30:00.123Z") * 1000 + 4)).toBe(
      "2024-01-15T10:30:00.123004Z",
    );
  });

  it("writes API times like the events' own: milliseconds, microseconds only when there are some", () => {
    const ms = Date.parse("2024-01-15T10:30:00.120Z") * 1000;
    expect(microsToApiIso(ms)).toBe("2024-01-15T10:30:00.120Z");
    expect(microsToApiIso(ms + 4)).toBe("2024-01-15T10:30:00.120004Z");
    expect(microsToApiIso(0)).toBe("1970-01-01T00:00:00.000Z");
  });

  it("types the queried fields and keeps the body as received", () => {
    const candle = markProcessed(makeOhlcv({ payload: { interval: "5m" } }), 0);
    const body = JSON.stringify(candle);
    expect(eventRow(candle, "processed", body)).toEqual({
      event_id: candle.event_id,
      ts_us: isoToMicros(candle.timestamp),
      stage: "processed",
      event_type: "ohlcv",
      source: "test",
      symbol: "BTC-USD",
      interval: "5m",
      body,
    });
    const beat = makeHeartbeat();
    expect(eventRow(beat, "system", "{}")).toMatchObject({ symbol: null, interval: null });
    const upper = makeTrade({ event_id: "01890A5D-AC96-774B-BCCE-B302099A8057" });
    expect(eventRow(upper, "market", "{}").event_id).toBe("01890a5d-ac96-774b-bcce-b302099a8057");
  });

  it("cursors are opaque and validated", () => {
    const position = {
      ts_us: 1_700_000_000_000_123,
      event_id: "01890a5d-ac96-774b-bcce-b302099a8057",
      stage: "market" as const,
    };
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(position);
    for (const bad of [
      "",
      "%%%",
      Buffer.from("{}").toString("base64url"),
      Buffer.from('[1,"x","market"]').toString("base64url"),
      Buffer.from('[1.5,"01890a5d-ac96-774b-bcce-b302099a8057","market"]').toString("base64url"),
      Buffer.from('[1,"01890a5d-ac96-774b-bcce-b302099a8057","deadletter"]').toString("base64url"),
    ]) {
      expect(() => decodeCursor(bad)).toThrow(StoreError);
    }
  });
});
