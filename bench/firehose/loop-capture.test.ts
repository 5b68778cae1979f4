import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ReplayConnector,
  createBinanceReplay,
  createBybitReplay,
  createHyperliquidReplay,
} from "@market-scraper/connector-service";
import type { StandardEvent } from "@market-scraper/events";
import { createLogger } from "@market-scraper/runtime";
import { afterAll, describe, expect, it } from "vitest";
import { ID_STEP, SHIFT_RULES, chainSpans, loopCapture, shiftFrame } from "./loop-capture.js";

const fixtures = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "services",
  "connector-service",
  "fixtures",
);
const logger = createLogger({ service: "test", level: "silent" });
const dir = mkdtempSync(join(tmpdir(), "loop-capture-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("shiftFrame", () => {
  it("moves a Binance trade's times to its receive time and its id by the loop", () => {
    const frame =
      '{"stream":"bnbbtc@trade","data":{"e":"trade","E":1567296001038,"s":"BNBBTC","t":60276726,"p":"0.00219650","q":"6.48000000","b":255533165,"a":255532831,"T":1567296001034,"m":true,"M":true}}';
    const out = JSON.parse(shiftFrame(frame, SHIFT_RULES.binance!, 2, 1_790_000_000_000)!) as {
      data: Record<string, unknown>;
    };
    expect(out.data).toEqual({
      e: "trade",
      E: 1_790_000_000_000,
      s: "BNBBTC",
      t: 60276726 + 2 * ID_STEP,
      p: "0.00219650",
      q: "6.48000000",
      b: 255533165 + 2 * ID_STEP,
      a: 255532831 + 2 * ID_STEP,
      T: 1_790_000_000_000 - 4,
      m: true,
      M: true,
    });
  });

  it("keeps candle bounds on 5-minute boundaries and leaves depth levels alone", () => {
    const kline =
      '{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1653818762502,"s":"BTCUSDT","k":{"t":1653818760000,"T":1653818819999,"s":"BTCUSDT","i":"1m","f":1384844002,"L":1384844032,"o":"29038.46000000","c":"29038.47000000","h":"29038.47000000","l":"29038.46000000","v":"0.1","n":31,"x":false,"q":"0","V":"0","Q":"0","B":"0"}}}';
    const k = (
      JSON.parse(shiftFrame(kline, SHIFT_RULES.binance!, 1, 1_790_000_123_456)!) as {
        data: { k: Record<string, number> };
      }
    ).data.k;
    expect(k.t! % 60_000).toBe(0);
    expect(k.T! - k.t!).toBe(59_999);
    expect(k.f).toBe(1384844002 + ID_STEP);
    expect(k.n).toBe(31);
    const depth =
      '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1573948821952,"T":1573948821948,"s":"BTCUSDT","U":687687944,"u":687687946,"pu":687687940,"b":[["8493.78","0.162"]],"a":[["8494.00","2.42541900"]]}}';
    const d = (
      JSON.parse(
        shiftFrame(depth, SHIFT_RULES["binance-usdm"]!, 2, 1_790_000_000_000, new Map([["btcusdt", 10]]))!,
      ) as { data: Record<string, unknown> }
    ).data;
    // A book's update ids chain from loop to loop: loop 2 moves them by twice the capture's span.
    expect(d).toMatchObject({ U: 687687964, u: 687687966, pu: 687687960 });
    expect(d.b).toEqual([["8493.78", "0.162"]]);
    expect(d.a).toEqual([["8494.00", "2.42541900"]]);
  });

  it("chainSpans: the span of a Binance book's update ids in a capture (USDⓈ-M: pu of the first to u of the last)", async () => {
    const frames = (await readFile(join(fixtures, "binance-usdm-capture.jsonl"), "utf8"))
      .split("\n")
      .filter((line) => line.includes('"type": "frame"') || line.includes('"type":"frame"'))
      .map((line) => (JSON.parse(line) as { frame: string }).frame);
    expect(chainSpans(frames, SHIFT_RULES["binance-usdm"]!)).toEqual(
      new Map([["btcusdt", 687687950 - 687687940]]),
    );
    expect(
      shiftFrame(
        frames.find((f) => f.includes("@depthSnapshot"))!,
        SHIFT_RULES["binance-usdm"]!,
        1,
        0,
      ),
    ).toBeUndefined();
  });

  it("moves Bybit's string ids: digits by the loop, a UUID in its last group", () => {
    const frame =
      '{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1680673822990,"data":[{"T":1680673822985,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"28560.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false},{"T":1680673822985,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"28560.50","L":"PlusTick","i":"2290000000050703789","BT":false}]}';
    const out = JSON.parse(shiftFrame(frame, SHIFT_RULES["bybit-linear"]!, 1, 1_790_000_000_000)!) as {
      ts: number;
      data: { i: string; T: number; L: string }[];
    };
    expect(out.ts).toBe(1_790_000_000_000);
    expect(out.data[0]).toMatchObject({ T: 1_790_000_000_000 - 5, L: "PlusTick" });
    expect(out.data[0]!.i).toBe(
      `20f43950-d8dd-5b31-9112-${(0xa178eb6023afn + BigInt(ID_STEP)).toString(16)}`,
    );
    expect(out.data[1]!.i).toBe((2290000000050703789n + BigInt(ID_STEP)).toString());
  });
});

describe("loopCapture", () => {
  async function replay(source: string, loops: number): Promise<Map<string, number>> {
    const file = join(dir, `${source}-${loops}.jsonl`);
    await loopCapture({
      capture: join(fixtures, `${source}-capture.jsonl`),
      source,
      out: file,
      loops,
      endMs: 1_790_000_000_000,
      stepMs: 10,
    });
    const events: StandardEvent[] = [];
    const common = {
      name: source,
      file,
      pace: { mode: "max" as const },
      logger,
      heartbeatIntervalMs: 0,
      progressIntervalMs: 0,
      sink: { publish: (e: StandardEvent) => void events.push(e) },
    };
    const connector: ReplayConnector = source.startsWith("binance")
      ? createBinanceReplay(common)
      : source.startsWith("bybit")
        ? createBybitReplay({ ...common, category: source === "bybit-spot" ? "spot" : "linear" })
        : createHyperliquidReplay(common);
    await connector.start();
    await connector.done();
    await connector.stop();
    const counts = new Map<string, number>();
    for (const e of events)
      if (e.event_type !== "connector_status") counts.set(e.event_type, (counts.get(e.event_type) ?? 0) + 1);
    // Trades, books, liquidations and derivative tickers are new in every loop: no id repeats. (A
    // candle's bounds stay on their bucket, so its updates in later loops are updates of the same candle.)
    const unique = events.filter((e) =>
      ["trade", "order_book", "liquidation", "derivative_ticker"].includes(e.event_type),
    );
    expect(new Set(unique.map((e) => e.event_id)).size).toBe(unique.length);
    return counts;
  }

  for (const source of ["hyperliquid", "binance", "binance-usdm", "bybit-spot", "bybit-linear"]) {
    it(`${source}: three loops replay as one stream three times as long (new ids, books never resynced)`, async () => {
      const one = await replay(source, 1);
      const three = await replay(source, 3);
      expect(one.get("trade")).toBeGreaterThan(0);
      for (const [type, count] of one) {
        // Exactly three times the trades, liquidations, derivative tickers and errors (so no BOOK_RESYNC);
        // books: at least three times (Binance's first loop buffers updates before its snapshot).
        if (["trade", "liquidation", "derivative_ticker", "error"].includes(type))
          expect([type, three.get(type)]).toEqual([type, 3 * count]);
        else expect(three.get(type)).toBeGreaterThanOrEqual(3 * count);
      }
    });
  }
});
