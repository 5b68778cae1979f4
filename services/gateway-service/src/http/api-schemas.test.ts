import { describe, expect, it } from "vitest";
import { EventsParams, SseParams, normalizeTime } from "./api-schemas.js";

describe("normalizeTime", () => {
  it.each([
    ["2024-01-15T10:30:00Z", "2024-01-15T10:30:00Z"],
    ["2024-01-15T10:30:00.123456Z", "2024-01-15T10:30:00.123456Z"],
    ["2024-01-15T11:30:00+01:00", "2024-01-15T10:30:00.000Z"],
    ["2024-01-15", "2024-01-15T00:00:00Z"],
    ["2024-02-29", "2024-02-29T00:00:00Z"],
  ])("%s → %s", (input, output) => {
    expect(normalizeTime(input)).toBe(output);
  });

  it.each([
    "2023-02-29",
    "2024-02-30T00:00:00Z",
    "2024-13-01",
    "yesterday",
    "1705314600",
    "2024-01-15 10:30:00",
  ])("rejects %s", (input) => {
    expect(normalizeTime(input)).toBeUndefined();
  });
});

describe("query schemas", () => {
  it("turn query strings into typed values", () => {
    expect(EventsParams.parse({ limit: "10", start: "2024-01-15", event_type: "trade" })).toEqual({
      limit: 10,
      start: "2024-01-15T00:00:00Z",
      event_type: "trade",
    });
    expect(SseParams.parse({ event_types: "trade, ticker", symbols: "BTC-USD", conflate: "1" })).toEqual({
      event_types: ["trade", "ticker"],
      symbols: ["BTC-USD"],
      conflate: true,
    });
  });
});
