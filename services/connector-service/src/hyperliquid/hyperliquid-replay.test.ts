import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { StandardEvent, isMarketDataType, markProcessed } from "@market-scraper/events";
import { createLogger } from "@market-scraper/runtime";
import { FakeHyperliquidServer, waitFor } from "@market-scraper/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { RawCaptureWriter, readCapture } from "../framework/raw-capture.js";
import type { ReplayConnector } from "../framework/replay-connector.js";
import { ManualScheduler } from "../framework/scheduler.js";
import { HyperliquidConnector } from "./hyperliquid-connector.js";
import { createHyperliquidReplay } from "./hyperliquid-replay.js";

const logger = createLogger({ service: "test", level: "silent" });
const FIXTURE = fileURLToPath(new URL("../../fixtures/hyperliquid-capture.jsonl", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "connector-capture-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const byType = (events: StandardEvent[], type: string): StandardEvent[] =>
  events.filter((e) => e.event_type === type);

/** Plays the shipped fixture as fast as possible; returns every event and the finished replay. */
async function playFixture(): Promise<{ events: StandardEvent[]; replay: ReplayConnector }> {
  const events: StandardEvent[] = [];
  const replay = createHyperliquidReplay({
    file: FIXTURE,
    pace: { mode: "max" },
    sink: { publish: (e) => events.push(e) },
    logger,
    heartbeatIntervalMs: 0,
  });
  await replay.start();
  await replay.done();
  return { events, replay };
}

describe("replay of a Hyperliquid capture", () => {
  it("plays the shipped fixture as fast as possible: every trade once, books, candles, tickers", async () => {
    const { events, replay } = await playFixture();
    for (const event of events) StandardEvent.parse(event);
    const trades = byType(events, "trade").map((e) => e.payload as { trade_id: string; symbol: string });
    expect(trades.map((t) => t.trade_id)).toEqual([
      "1045359869404765",
      "1045359869404766",
      "893201477122011",
      "1045359869404901",
      "1045359869405002",
    ]);
    expect(trades[2]!.symbol).toBe("HYPE-USDC");
    expect(byType(events, "order_book")).toHaveLength(1);
    expect(byType(events, "ohlcv").map((e) => (e.payload as { close: number }).close)).toEqual([
      84143, 84142,
    ]);
    expect(byType(events, "ticker").map((e) => (e.payload as { price: number }).price)).toEqual([
      84143.5, 84144.5,
    ]);
    const statuses = byType(events, "connector_status").map((e) => (e.payload as { status: string }).status);
    expect(statuses).toEqual(["connecting", "connected", "subscribed", "disconnected"]);
    // The frames are replayed with their capture time: the events are those of the live run.
    const trade = byType(events, "trade")[0]!;
    expect((trade.payload as { received_at: string }).received_at).toBe(
      new Date(1790232216055).toISOString(),
    );
    // ... and say when this replay played them, where processing starts: a trade of long ago processed
    // now reads a few ms of processing, not its age (issue 13, point 12).
    const replayedAt = Date.parse((trade.payload as { replayed_at: string }).replayed_at);
    expect(replayedAt).toBeGreaterThan(Date.parse("2026-11-01"));
    const processed = markProcessed(trade, replayedAt + 3);
    expect(processed.processing_time_ms).toBe(3);
    expect(byType(events, "connector_status").every((e) => !("replayed_at" in e.payload))).toBe(true);
    expect(replay.framesPlayed).toBe(20);
  });

  it("gives every market event an id from what the exchange sent: the same ids on every replay", async () => {
    const play = async (): Promise<StandardEvent[]> =>
      (await playFixture()).events.filter((e) => isMarketDataType(e.event_type));
    const first = await play();
    await new Promise((r) => setTimeout(r, 5)); // another wall-clock millisecond: ids must not depend on it
    const second = await play();
    expect(new Set(first.map((e) => e.event_type))).toEqual(
      new Set(["trade", "order_book", "ohlcv", "ticker"]),
    );
    expect(second.map((e) => [e.event_type, e.event_id])).toEqual(
      first.map((e) => [e.event_type, e.event_id]),
    );
    // Distinct events keep distinct ids.
    expect(new Set(first.map((e) => e.event_id)).size).toBe(first.length);
  });

  it("plays in real time (scaled by speed) on the injected clock", async () => {
    const scheduler = new ManualScheduler(0);
    const events: StandardEvent[] = [];
    const replay = createHyperliquidReplay({
      file: FIXTURE,
      pace: { mode: "realtime", speed: 2 },
      sink: { publish: (e) => events.push(e) },
      logger,
      scheduler,
      heartbeatIntervalMs: 0,
    });
    await replay.start();
    // The greeting plays at once, the six acks within 18 ms (9 ms at 2x), the first trade frame 55 ms
    // after the greeting (27.5 ms at 2x).
    await waitFor(() => replay.framesPlayed === 1, { message: "first frame" });
    scheduler.advance(9);
    await waitFor(() => replay.framesPlayed === 7, { message: "the acks" });
    scheduler.advance(18);
    await new Promise((r) => setTimeout(r, 30));
    expect(byType(events, "trade")).toHaveLength(0);
    scheduler.advance(1);
    await waitFor(() => byType(events, "trade").length === 2, { message: "first trade frame" });
    scheduler.advance(10_000);
    await waitFor(() => replay.finished, { message: "whole file" });
    expect(byType(events, "trade")).toHaveLength(5);
    await replay.stop();
  });

  it("logs its progress every few seconds (frames, events, % of the file, rate) and a summary at the end", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({
      service: "test",
      level: "info",
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    const scheduler = new ManualScheduler(0);
    const replay = createHyperliquidReplay({
      file: FIXTURE,
      pace: { mode: "realtime", speed: 2 },
      sink: { publish: () => undefined },
      logger: log,
      scheduler,
      heartbeatIntervalMs: 0,
      progressIntervalMs: 10,
    });
    await replay.start();
    expect(lines.find((l) => l.msg === "replay started")).toMatchObject({
      file: FIXTURE,
      file_bytes: statSync(FIXTURE).size,
    });
    await waitFor(() => replay.framesPlayed === 1, { message: "the greeting" });
    scheduler.advance(9); // the six acks (18 ms at 2x)
    await waitFor(() => replay.framesPlayed === 7, { message: "greeting and acks" });
    scheduler.advance(1); // one progress interval from the start
    const progress = lines.filter(
      (l) => typeof l.msg === "string" && l.msg.startsWith("replay ") && "percent" in l,
    );
    expect(progress).toHaveLength(1);
    expect(progress[0]).toMatchObject({ file: FIXTURE, frames: 7, events: 0, frames_per_s: 700 });
    expect(progress[0]!.percent).toBeGreaterThan(0);
    expect(progress[0]!.percent).toBeLessThan(100);
    scheduler.advance(10_000);
    await waitFor(() => replay.finished, { message: "whole file" });
    const summary = lines.find((l) => typeof l.msg === "string" && l.msg.startsWith("replay finished:"));
    expect(summary).toMatchObject({ frames: 20, percent: 100, file_bytes: statSync(FIXTURE).size });
    expect(summary!.events).toBeGreaterThan(5);
    await replay.stop();
  });

  it("captures a live session and replays it into the same trade events", async () => {
    const fake = await FakeHyperliquidServer.start();
    const file = join(dir, "live.jsonl");
    const capture = new RawCaptureWriter(file);
    const live: StandardEvent[] = [];
    const connector = new HyperliquidConnector({
      wsUrl: fake.wsUrl,
      restUrl: fake.restUrl,
      symbols: ["BTC"],
      channels: ["trade", "order_book"],
      sink: { publish: (e) => live.push(e) },
      logger,
      heartbeatIntervalMs: 0,
      capture,
    });
    try {
      await connector.start();
      await waitFor(() => connector.state === "subscribed", { message: "subscribed" });
      fake.pushTrades([
        { coin: "BTC", side: "B", px: "1.5", sz: "2", time: 1790232216193, hash: "0x0", tid: 42 },
      ]);
      fake.pushBook("BTC", [{ px: "1.4", sz: "1", n: 1 }], [{ px: "1.6", sz: "1", n: 1 }], 1790232216200);
      await waitFor(() => byType(live, "trade").length === 1 && byType(live, "order_book").length === 1, {
        message: "live events",
      });
    } finally {
      await connector.stop();
      await capture.close();
      await fake.close();
    }
    const records = [];
    for await (const record of readCapture(file)) records.push(record);
    expect(records[0]).toMatchObject({ type: "markets", connector: "hyperliquid" });
    expect(records.filter((r) => r.type === "frame").length).toBe(capture.frames);

    const replayed: StandardEvent[] = [];
    const replay = createHyperliquidReplay({
      file,
      pace: { mode: "max" },
      sink: { publish: (e) => replayed.push(e) },
      logger,
      heartbeatIntervalMs: 0,
    });
    await replay.start();
    await replay.done();
    expect(byType(replayed, "trade").map((e) => e.event_id)).toEqual(
      byType(live, "trade").map((e) => e.event_id),
    );
    // The live run's payloads, plus when this replay played them.
    const played = byType(replayed, "order_book").map((e) => e.payload as { replayed_at?: string });
    expect(played.map(({ replayed_at: _, ...payload }) => payload)).toEqual(
      byType(live, "order_book").map((e) => e.payload),
    );
    for (const payload of played) expect(Date.parse(payload.replayed_at!)).toBeGreaterThan(0);
  });
});
