import { encodeEvent, subjectFor } from "@market-scraper/events";
import { makeTrade } from "@market-scraper/testkit";
import { describe, expect, it } from "vitest";
import { consumerName } from "./ingest-worker.js";
import { decodeMessage } from "./decode.js";

describe("decodeMessage", () => {
  it("makes a row of a valid event on its subject, stage from the first token", () => {
    const trade = makeTrade();
    const decoded = decodeMessage(subjectFor(trade), encodeEvent(trade));
    expect(decoded).toMatchObject({
      ok: true,
      row: { stage: "market", event_type: "trade", event_id: trade.event_id },
    });
    const processed = decodeMessage(subjectFor(trade, "processed"), encodeEvent(trade));
    expect(processed).toMatchObject({ ok: true, row: { stage: "processed" } });
  });

  it("stores times given with an offset in UTC with Z, other bodies as received", () => {
    const trade = makeTrade();
    const text = new TextDecoder()
      .decode(encodeEvent(trade))
      .replace(`"timestamp":"${trade.timestamp}"`, '"timestamp":"2024-01-15T12:30:00.123+02:00"');
    const decoded = decodeMessage(subjectFor(trade), Buffer.from(text));
    if (!decoded.ok) throw new Error(decoded.error);
    const body = JSON.parse(decoded.row.body) as { timestamp: string };
    expect(body.timestamp).toBe("2024-01-15T10:30:00.123Z");
    expect(decoded.row.body).not.toContain("+02:00");
    const plain = decodeMessage(subjectFor(trade), encodeEvent(trade));
    expect(plain.ok && plain.row.body).toBe(new TextDecoder().decode(encodeEvent(trade)));
  });

  it("refuses what cannot be stored", () => {
    const trade = makeTrade();
    expect(decodeMessage("market.trade.test.BTC-USD", Buffer.from("{oops"))).toMatchObject({ ok: false });
    expect(decodeMessage("market.trade.test.BTC-USD", Buffer.from("{}"))).toMatchObject({ ok: false });
    expect(decodeMessage("market.trade.other.BTC-USD", encodeEvent(trade))).toMatchObject({
      ok: false,
      event_id: trade.event_id,
    });
    expect(decodeMessage("deadletter.market.trade.test.BTC-USD", encodeEvent(trade))).toMatchObject({
      ok: false,
    });
  });

  it("names one durable consumer per subject", () => {
    expect(consumerName("storage", "market.>")).toBe("storage_market_all");
    expect(consumerName("storage", "market.*.hyperliquid.>")).toBe("storage_market_any_hyperliquid_all");
  });
});
