import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { type CaptureRecord, readCapture } from "@market-scraper/connector-service";

/**
 * Which fields of an exchange's frames are times and ids. A key matches as `parent.key` or as `key`
 * (Binance `t` is a trade id in `@trade` but a kline's open time under `k`). Only numbers and digit
 * strings are moved (Binance's `a` is an id in `@aggTrade` but the asks array in a depth update).
 */
export interface ShiftRules {
  /** Exchange times (ms): moved so the frame's first time is its new receive time. */
  times: readonly string[];
  /** Candle bounds: moved by the same amount rounded down to whole 5 minutes (buckets stay aligned). */
  candleTimes: readonly string[];
  /** Trade ids, update ids, sequences: moved by `loop × ID_STEP` (UUID-like ids: their last group). */
  ids: readonly string[];
  /**
   * Book update ids that chain from loop to loop instead (`keys` of the frames `bookOf` names a symbol
   * for): loop n moves them by n × the span of the capture's ids for that book, so the whole looped
   * stream is one gap-free stream per book, synced once.
   */
  chained?: { keys: readonly string[]; bookOf(frame: Record<string, unknown>): string | undefined };
  /** Frames played in the first loop only (Binance's REST depth snapshot: the chained book needs one). */
  firstLoopOnly?(frame: Record<string, unknown>): boolean;
}

/** `btcusdt@depth@100ms` / `@depth` / `@depthSnapshot` → `btcusdt`. */
function binanceBookOf(frame: Record<string, unknown>): string | undefined {
  const stream = frame.stream;
  if (typeof stream !== "string" || !/@depth(@\d+ms|Snapshot)?$/.test(stream)) return undefined;
  return stream.slice(0, stream.indexOf("@"));
}

export const SHIFT_RULES: Record<string, ShiftRules> = {
  hyperliquid: { times: ["time"], candleTimes: ["data.t", "data.T"], ids: ["tid"] },
  binance: {
    times: ["E", "data.T", "o.T", "time", "O", "C"],
    candleTimes: ["k.t", "k.T"],
    ids: ["data.t", "data.a", "data.b", "f", "l", "u", "F", "L", "k.f", "k.L"],
    chained: { keys: ["U", "u", "pu", "lastUpdateId"], bookOf: binanceBookOf },
    firstLoopOnly: (frame) => frame.generated === true && binanceBookOf(frame) !== undefined,
  },
  "bybit-spot": {
    times: ["ts", "cts", "T", "timestamp", "nextFundingTime"],
    candleTimes: ["start", "end"],
    ids: ["i", "u", "seq", "cs"],
  },
};
SHIFT_RULES["binance-usdm"] = SHIFT_RULES.binance!;
SHIFT_RULES["bybit-linear"] = SHIFT_RULES["bybit-spot"]!;

/** Ids of loop n are the original ones plus n × this (well inside 2^53 for the captures' ids). */
export const ID_STEP = 10_000_000_000;
const CANDLE_QUANTUM = 300_000;

const UUID_TAIL = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-)([0-9a-f]{12})$/;

function matches(list: readonly string[], parent: string, key: string): boolean {
  return list.includes(`${parent}.${key}`) || list.includes(key);
}

function moved(value: unknown, by: number): unknown {
  if (typeof value === "number") return value + by;
  if (typeof value === "string" && /^\d+$/.test(value)) return (BigInt(value) + BigInt(by)).toString();
  return value;
}

function movedId(value: unknown, by: number): unknown {
  if (typeof value === "string") {
    const uuid = UUID_TAIL.exec(value);
    if (uuid !== null) {
      const tail = (BigInt(`0x${uuid[2]!}`) + BigInt(by)) % 16n ** 12n;
      return `${uuid[1]!}${tail.toString(16).padStart(12, "0")}`;
    }
  }
  return moved(value, by);
}

/** The first time field of a frame, depth first in key order (its `E`, `ts`, a trade's `time`, a candle's `t`…). */
function firstTime(node: unknown, rules: ShiftRules, parent: string): number | undefined {
  if (Array.isArray(node)) {
    for (const item of node) {
      const t = firstTime(item, rules, parent);
      if (t !== undefined) return t;
    }
    return undefined;
  }
  if (typeof node !== "object" || node === null) return undefined;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (matches(rules.times, parent, key) || matches(rules.candleTimes, parent, key)) {
      const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
      if (typeof n === "number" && n > 1e12) return n;
    }
    const t = firstTime(value, rules, key);
    if (t !== undefined) return t;
  }
  return undefined;
}

interface Moves {
  dt: number;
  dCandle: number;
  did: number;
  /** Set for a frame of a chained book: its update ids move by this instead. */
  dChain: number | undefined;
}

function shift(node: unknown, rules: ShiftRules, parent: string, m: Moves): unknown {
  if (Array.isArray(node)) return node.map((item) => shift(item, rules, parent, m));
  if (typeof node !== "object" || node === null) return node;
  const { dt, dCandle, did, dChain } = m;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (typeof value === "object" && value !== null) out[key] = shift(value, rules, key, m);
    else if (dChain !== undefined && rules.chained!.keys.includes(key)) out[key] = moved(value, dChain);
    else if (matches(rules.candleTimes, parent, key)) out[key] = moved(value, dCandle);
    else if (matches(rules.times, parent, key)) out[key] = moved(value, dt);
    else if (did !== 0 && matches(rules.ids, parent, key)) out[key] = movedId(value, did);
    else out[key] = value;
  }
  return out;
}

/**
 * The id span of each chained book in a capture's frames: the highest update id minus the lowest id an
 * update follows (`pu`, else `U - 1`). Loop n moves the book's ids by n × its span, so loop n's first
 * update follows loop n-1's last.
 */
export function chainSpans(frames: readonly string[], rules: ShiftRules): Map<string, number> {
  const bounds = new Map<string, { lo: number; hi: number }>();
  if (rules.chained === undefined) return new Map();
  for (const text of frames) {
    if (!text.startsWith("{")) continue;
    const frame = JSON.parse(text) as Record<string, unknown>;
    const book = rules.chained.bookOf(frame);
    const d = frame.data as { U?: unknown; u?: unknown; pu?: unknown } | undefined;
    if (book === undefined || typeof d?.u !== "number" || typeof d.U !== "number") continue;
    const follows = typeof d.pu === "number" ? d.pu : d.U - 1;
    const b = bounds.get(book) ?? { lo: follows, hi: d.u };
    bounds.set(book, { lo: Math.min(b.lo, follows), hi: Math.max(b.hi, d.u) });
  }
  return new Map([...bounds].map(([book, b]) => [book, b.hi - b.lo]));
}

/**
 * One frame of loop `loop`, received at `receivedAt`: its times moved so its first time is `receivedAt`
 * (exchange times then rise with the receive times over the whole looped stream, as live), its ids
 * moved by `loop × ID_STEP` (so de-duplication, and the deterministic event ids, see new trades), a
 * chained book's update ids by `loop × span` (`chainSpans`). Undefined for a first-loop-only frame in a
 * later loop. Text that is not a JSON object (Hyperliquid's greeting) is kept as it is.
 */
export function shiftFrame(
  frame: string,
  rules: ShiftRules,
  loop: number,
  receivedAt: number,
  spans: ReadonlyMap<string, number> = new Map(),
): string | undefined {
  if (!frame.startsWith("{")) return frame;
  const parsed = JSON.parse(frame) as Record<string, unknown>;
  if (loop > 0 && rules.firstLoopOnly?.(parsed) === true) return undefined;
  const first = firstTime(parsed, rules, "");
  const dt = first === undefined ? 0 : receivedAt - first;
  const dCandle = Math.floor(dt / CANDLE_QUANTUM) * CANDLE_QUANTUM;
  const book = rules.chained?.bookOf(parsed);
  const span = book === undefined ? undefined : spans.get(book);
  const dChain = book === undefined ? undefined : loop * (span ?? 0);
  return JSON.stringify(shift(parsed, rules, "", { dt, dCandle, did: loop * ID_STEP, dChain }));
}

/**
 * Writes `loops` copies of a capture's frames to `out` (its `markets` record once, first), `stepMs` apart,
 * the last received at `endMs`. Returns the frames written.
 */
export async function loopCapture(options: {
  capture: string;
  source: string;
  out: string;
  loops: number;
  endMs: number;
  stepMs: number;
}): Promise<number> {
  const rules = SHIFT_RULES[options.source];
  if (rules === undefined) throw new Error(`no shift rules for ${options.source}`);
  const records: CaptureRecord[] = [];
  for await (const record of readCapture(options.capture)) records.push(record);
  const markets = records.filter((r) => r.type === "markets");
  const frames = records
    .filter((r): r is Extract<CaptureRecord, { type: "frame" }> => r.type === "frame")
    .map((r) => r.frame);
  const spans = chainSpans(frames, rules);
  const stream = createWriteStream(options.out);
  const write = async (line: string): Promise<void> => {
    if (!stream.write(`${line}\n`)) await once(stream, "drain");
  };
  for (const record of markets) await write(JSON.stringify(record));
  const startMs = options.endMs - (frames.length * options.loops - 1) * options.stepMs;
  let n = 0;
  for (let loop = 0; loop < options.loops; loop += 1) {
    for (const text of frames) {
      const ms = startMs + n * options.stepMs;
      const frame = shiftFrame(text, rules, loop, ms, spans);
      if (frame === undefined) continue;
      n += 1;
      await write(JSON.stringify({ type: "frame", ms, frame }));
    }
  }
  stream.end();
  await once(stream, "finish");
  return n;
}
