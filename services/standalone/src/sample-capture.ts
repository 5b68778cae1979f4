import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** One perpetual of a generated capture and its starting price. */
export interface SampleCoin {
  readonly coin: string;
  readonly price: number;
  /** Decimals of `px`. */
  readonly pxDecimals: number;
}

export interface SampleCaptureOptions {
  /** Exchange time of the first frame (ms since the epoch). Default 2026-09-24T06:40:00Z. */
  startMs?: number;
  /** Length of the capture in exchange time. Default 3 minutes. */
  durationMs?: number;
  /** Trades per second per coin (each in its own `trades` frame). Default 2. */
  tradesPerSecond?: number;
  /** An `l2Book` and a `bbo` frame per coin this often. Default 2 s; 0 = none. */
  bookEveryMs?: number;
  /** Default BTC (84,000) and ETH (3,100). */
  coins?: readonly SampleCoin[];
  /** PRNG seed: the same options always give the same file. Default 7. */
  seed?: number;
}

export const DEFAULT_SAMPLE_COINS: readonly SampleCoin[] = [
  { coin: "BTC", price: 84_000, pxDecimals: 1 },
  { coin: "ETH", price: 3_100, pxDecimals: 2 },
];

const USERS = ["0x9aa589355bf745db9784c8ef3c646360f11b58af", "0x8269c0a4f5f1a14582e0aa46856a234893c41970"];

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Writes a raw Hyperliquid capture (the connector's `CAPTURE_DIR` format: a `markets` record, then
 * `{"type":"frame","ms","frame"}` lines) of synthetic but well-formed market data: trades on a random
 * walk, books, best bid/offer and asset contexts (hence tickers). Replayed with `REPLAY_FILE`, it drives
 * the whole pipeline offline. Returns the number of trades written.
 */
export function writeSampleCapture(path: string, options: SampleCaptureOptions = {}): number {
  const startMs = options.startMs ?? Date.UTC(2026, 8, 24, 6, 40);
  const durationMs = options.durationMs ?? 180_000;
  const perSecond = options.tradesPerSecond ?? 2;
  const bookEveryMs = options.bookEveryMs ?? 2_000;
  const coins = options.coins ?? DEFAULT_SAMPLE_COINS;
  const random = prng(options.seed ?? 7);
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, "w");
  let chunk: string[] = [];
  const write = (record: unknown) => {
    chunk.push(JSON.stringify(record));
    if (chunk.length >= 4096) flush();
  };
  const flush = () => {
    if (chunk.length > 0) writeSync(fd, `${chunk.join("\n")}\n`);
    chunk = [];
  };
  const frame = (ms: number, body: unknown) =>
    write({ type: "frame", ms, frame: typeof body === "string" ? body : JSON.stringify(body) });

  try {
    write({
      type: "markets",
      connector: "hyperliquid",
      markets: coins.map((c) => ({ coin: c.coin, symbol: `${c.coin}-USD`, kind: "perp" })),
    });
    frame(startMs, "Websocket connection established.");
    let ms = startMs;
    for (const c of coins) {
      for (const subscription of [
        { type: "trades", coin: c.coin },
        { type: "l2Book", coin: c.coin, nSigFigs: null, mantissa: null },
        { type: "bbo", coin: c.coin },
        { type: "activeAssetCtx", coin: c.coin },
      ]) {
        frame((ms += 1), { channel: "subscriptionResponse", data: { method: "subscribe", subscription } });
      }
    }
    const prices = coins.map((c) => c.price);
    const tick = coins.map((c) => 10 ** -c.pxDecimals);
    let tid = 1_045_359_869_400_000;
    let trades = 0;
    const stepMs = 1000 / Math.max(perSecond, 1e-9);
    const total = Math.floor((durationMs / 1000) * perSecond);
    let nextBook = startMs + 10;
    for (let i = 0; i < total; i++) {
      const time = Math.round(startMs + 10 + i * stepMs);
      while (bookEveryMs > 0 && nextBook <= time) {
        coins.forEach((c, k) => {
          const mid = prices[k]!;
          const level = (px: number, n: number) => ({
            px: px.toFixed(c.pxDecimals),
            sz: (0.1 + random() * 5).toFixed(5),
            n,
          });
          const bids = [1, 2, 3].map((d) => level(mid - d * tick[k]!, d * 2));
          const asks = [1, 2, 3].map((d) => level(mid + d * tick[k]!, d * 2));
          frame(nextBook + 3, {
            channel: "l2Book",
            data: { coin: c.coin, time: nextBook, levels: [bids, asks] },
          });
          frame(nextBook + 4, {
            channel: "bbo",
            data: { coin: c.coin, time: nextBook, bbo: [bids[0], asks[0]] },
          });
          const px = (x: number) => x.toFixed(c.pxDecimals);
          frame(nextBook + 5, {
            channel: "activeAssetCtx",
            data: {
              coin: c.coin,
              ctx: {
                funding: "0.0000125",
                openInterest: (30_000 + random() * 100).toFixed(5),
                prevDayPx: px(c.price),
                dayNtlVlm: (4_000_000_000 + random() * 1e6).toFixed(2),
                premium: "-0.0003",
                oraclePx: px(mid),
                markPx: px(mid),
                midPx: px(mid),
                impactPxs: [px(mid - tick[k]!), px(mid + tick[k]!)],
                dayBaseVlm: (40_000 + random() * 100).toFixed(5),
              },
            },
          });
        });
        nextBook += bookEveryMs;
      }
      coins.forEach((c, k) => {
        const step = Math.round((random() - 0.5) * 10) * tick[k]!;
        prices[k] = Math.max(tick[k]!, prices[k]! + step);
        tid += 1 + Math.floor(random() * 5);
        trades += 1;
        const hash = `0x${tid.toString(16).padStart(16, "0").repeat(4)}`;
        frame(time + 2, {
          channel: "trades",
          data: [
            {
              coin: c.coin,
              side: random() < 0.5 ? "A" : "B",
              px: prices[k].toFixed(c.pxDecimals),
              sz: (0.0001 + random() * 2).toFixed(5),
              time,
              hash,
              tid,
              users: USERS,
            },
          ],
        });
      });
    }
    flush();
    return trades;
  } finally {
    closeSync(fd);
  }
}
