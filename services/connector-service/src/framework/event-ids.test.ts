import { describe, expect, it } from "vitest";
import { deterministicEventId, fnv1a32, hashedEventId } from "./event-ids.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("deterministicEventId", () => {
  const stream = fnv1a32("hyperliquid|BTC");

  it("is a UUIDv8 that depends only on (time, stream, id)", () => {
    const id = deterministicEventId(1_730_160_006_192, stream, 1_016_375_172_059_570);
    expect(id).toMatch(UUID);
    expect(deterministicEventId(1_730_160_006_192, stream, 1_016_375_172_059_570)).toBe(id);
    expect(id.startsWith((1_730_160_006_192).toString(16).padStart(12, "0").slice(0, 8))).toBe(true);
  });

  it("differs when any part differs", () => {
    const ids = new Set([
      deterministicEventId(1_730_160_006_192, stream, 1),
      deterministicEventId(1_730_160_006_193, stream, 1),
      deterministicEventId(1_730_160_006_192, fnv1a32("hyperliquid|ETH"), 1),
      deterministicEventId(1_730_160_006_192, stream, 2),
      deterministicEventId(1_730_160_006_192, stream, 2 ** 48 + 1),
      deterministicEventId(1_730_160_006_192, stream, 2 ** 50 - 1),
    ]);
    expect(ids.size).toBe(6);
  });

  it("sorts by time like a UUIDv7", () => {
    const a = deterministicEventId(1_730_160_006_192, stream, 2 ** 50 - 1);
    const b = deterministicEventId(1_730_160_006_193, stream, 0);
    expect(a < b).toBe(true);
  });

  it("falls back to a hash for ids outside the layout", () => {
    const id = deterministicEventId(1_730_160_006_192, stream, 2 ** 51);
    expect(id).toMatch(UUID);
    expect(id).toBe(hashedEventId(`1730160006192|${stream}|${2 ** 51}`));
  });
});
