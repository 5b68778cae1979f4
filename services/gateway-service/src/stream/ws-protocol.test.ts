import { describe, expect, it } from "vitest";
import { parseClientMessage } from "./ws-protocol.js";

describe("parseClientMessage", () => {
  it("accepts the three actions", () => {
    expect(parseClientMessage('{"action":"ping"}')).toEqual({ ok: true, message: { action: "ping" } });
    expect(
      parseClientMessage(
        '{"action":"subscribe","id":"x","event_types":["trade"],"symbols":["BTC-USD"],"sources":["hl"]}',
      ),
    ).toEqual({
      ok: true,
      message: {
        action: "subscribe",
        id: "x",
        event_types: ["trade"],
        symbols: ["BTC-USD"],
        sources: ["hl"],
      },
    });
    expect(parseClientMessage('{"action":"unsubscribe"}')).toEqual({
      ok: true,
      message: { action: "unsubscribe" },
    });
  });

  it.each([
    ["nope", "invalid JSON"],
    ["null", "a message must be a JSON object"],
    ['"ping"', "a message must be a JSON object"],
    ['{"action":5}', "'action' is missing: expected subscribe, unsubscribe, ping"],
    ['{"action":"subscribe","event_types":["trade","bogus"]}', "'event_types[1]' must be one of"],
    ['{"action":"subscribe","sources":[""]}', "'sources[0]' must not be empty"],
    ['{"action":"subscribe","id":"has space"}', "'id' may only hold"],
    ['{"action":"ping","extra":1}', "unknown field 'extra' for action ping"],
  ])("rejects %s naming the problem", (text, message) => {
    const parsed = parseClientMessage(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toContain(message);
  });

  it("keeps the request id for the error frame", () => {
    expect(parseClientMessage('{"action":"subscribe","id":"s9","symbols":[]}')).toMatchObject({
      ok: false,
      id: "s9",
    });
  });
});
