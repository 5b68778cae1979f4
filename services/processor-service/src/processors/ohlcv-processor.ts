import type { EventBus } from "@market-scraper/bus";
import {
  type EventType,
  type StandardEvent,
  EventType as Types,
  StandardEvent as Events,
} from "@market-scraper/events";
import { type Decimal, ZERO, add, deserialize, fromNumber, serialize, toNumber } from "../decimal.js";
import { deterministicId } from "../deterministic-id.js";
import { type IntervalSpec, parseInterval } from "../interval.js";
import { Processor, type ProcessorOptions, errorEventFor } from "../processor.js";
import { ProcessorError } from "../processor-error.js";
import { z } from "zod";

export const DEFAULT_OHLCV_INTERVALS = ["1m", "5m", "1h"] as const;
/** `serialize(decimal)`: `<mantissa>e-<scale>`. */
const SERIALIZED_DECIMAL = /^-?\d+e-\d+$/;
export const LATE_TRADE = "LATE_TRADE";

export interface OhlcvOptions extends ProcessorOptions {
  /** Candle intervals, e.g. `["1m", "5m", "1h"]`. */
  intervals?: readonly string[];
  /**
   * How far (event time) a trade may lag the newest trade of its symbol and still be merged. A bucket
   * closes, and its candle is emitted, once a trade at or after `bucket end + latenessMs` arrives.
   * Default 0.
   */
  latenessMs?: number;
  /** Also emit the open bucket (`closed: false`) after every trade. Default false. */
  partial?: boolean;
}

interface Bucket {
  start: number;
  end: number;
  open: number;
  openTime: number;
  high: number;
  low: number;
  close: number;
  closeTime: number;
  volume: Decimal;
  trades: number;
}

interface SymbolState {
  /** Newest trade time seen (ms); the watermark is this minus the lateness allowance. */
  maxTime: number;
  /** Open buckets per interval, by start time. */
  buckets: Map<string, Map<number, Bucket>>;
}

/** Checkpointed form of one (source, symbol). */
export interface OhlcvState {
  maxTime: number;
  /** interval → [start, end, open, openTime, high, low, close, closeTime, volume, trades][] */
  buckets: Record<string, [number, number, number, number, number, number, number, number, string, number][]>;
}

/**
 * Trades → OHLCV candles for every configured interval, buckets aligned to the Unix epoch in UTC.
 *
 * - Event time only: a bucket `[start, end)` closes when the newest trade of its (source, symbol) is at
 *   or past `end + latenessMs`; its candle (`closed: true`, `timestamp` = bucket open time) is emitted
 *   then. A quiet symbol's last bucket stays open until its next trade.
 * - Out-of-order trades within the allowance are merged: open is the earliest trade (first arrival on a
 *   tie), close the latest (last arrival on a tie).
 * - A trade for a bucket already closed is late: it is not merged, it is counted (`lateTrades`) and
 *   reported as a `LATE_TRADE` error event naming the intervals it missed.
 * - Volume is summed exactly in decimal; the candle's `volume` is the double nearest the exact sum.
 * - Buckets without trades produce no candle.
 * - Candle ids derive from source|symbol|interval|bucket, so re-emitting one is idempotent downstream.
 *
 * The trade itself passes through, followed by the candles it closed.
 */
export class OhlcvProcessor extends Processor {
  override readonly eventTypes: readonly EventType[] = [Types.TRADE];
  readonly intervals: readonly IntervalSpec[];
  readonly latenessMs: number;
  readonly partial: boolean;
  readonly #state = new Map<string, SymbolState>();
  readonly #late = new Map<string, number>();
  #candles = 0;

  constructor(bus: EventBus | null = null, options: OhlcvOptions = {}) {
    super(bus, { name: "ohlcv", ...options });
    const names = [...new Set(options.intervals ?? DEFAULT_OHLCV_INTERVALS)];
    if (names.length === 0) throw new ProcessorError("INVALID_OPTION", "ohlcv needs at least one interval");
    this.intervals = names.map(parseInterval);
    this.latenessMs = options.latenessMs ?? 0;
    if (!Number.isFinite(this.latenessMs) || this.latenessMs < 0)
      throw new ProcessorError("INVALID_OPTION", "latenessMs must be a finite number ≥ 0");
    this.partial = options.partial ?? false;
  }

  override get stateful(): boolean {
    return true;
  }

  /** Late trades (not merged) per interval. */
  lateTrades(): ReadonlyMap<string, number> {
    return new Map(this.#late);
  }

  /** Closed candles emitted. */
  get candlesEmitted(): number {
    return this.#candles;
  }

  override process(event: StandardEvent): StandardEvent[] {
    if (event.event_type !== Types.TRADE) return [event];
    const { payload } = event;
    const time = Date.parse(payload.timestamp);
    if (Number.isNaN(time)) throw new Error(`trade time '${payload.timestamp}' is not a date`);
    const volume = fromNumber(payload.volume);
    const state = this.#stateFor(event.source, payload.symbol);
    if (time > state.maxTime) state.maxTime = time;
    const watermark = state.maxTime - this.latenessMs;
    const out: StandardEvent[] = [event];
    const missed: string[] = [];
    const touched: [IntervalSpec, Bucket][] = [];

    for (const spec of this.intervals) {
      const start = spec.bucketStart(time);
      const end = spec.bucketEnd(start);
      if (end <= watermark) {
        missed.push(spec.name);
        this.#late.set(spec.name, (this.#late.get(spec.name) ?? 0) + 1);
        continue;
      }
      const buckets = state.buckets.get(spec.name)!;
      const bucket = buckets.get(start);
      if (bucket === undefined) {
        const b: Bucket = {
          start,
          end,
          open: payload.price,
          openTime: time,
          high: payload.price,
          low: payload.price,
          close: payload.price,
          closeTime: time,
          volume,
          trades: 1,
        };
        buckets.set(start, b);
        touched.push([spec, b]);
        continue;
      }
      if (time < bucket.openTime) {
        bucket.open = payload.price;
        bucket.openTime = time;
      }
      if (time >= bucket.closeTime) {
        bucket.close = payload.price;
        bucket.closeTime = time;
      }
      if (payload.price > bucket.high) bucket.high = payload.price;
      if (payload.price < bucket.low) bucket.low = payload.price;
      bucket.volume = add(bucket.volume, volume);
      bucket.trades++;
      touched.push([spec, bucket]);
    }

    for (const spec of this.intervals) {
      const buckets = state.buckets.get(spec.name)!;
      if (buckets.size === 0) continue;
      const closing = [...buckets.values()]
        .filter((b) => b.end <= watermark)
        .sort((a, b) => a.start - b.start);
      for (const b of closing) {
        buckets.delete(b.start);
        out.push(this.#candle(event.source, payload.symbol, spec, b, true));
        this.#candles++;
      }
    }
    if (this.partial) {
      for (const [spec, b] of touched) {
        if (b.end > watermark) out.push(this.#candle(event.source, payload.symbol, spec, b, false));
      }
    }
    if (missed.length > 0) {
      this.logger.warn(
        { source: event.source, symbol: payload.symbol, trade_time: payload.timestamp, intervals: missed },
        "late trade not merged into closed candles",
      );
      out.push(
        errorEventFor(event, {
          source: this.errorSource,
          id: deterministicId("late", this.name, event.event_id),
          code: LATE_TRADE,
          message: `trade at ${payload.timestamp} arrived after its ${missed.join(", ")} candle(s) closed`,
          details: {
            processor: this.name,
            intervals: missed,
            trade_time: payload.timestamp,
            watermark: new Date(watermark).toISOString(),
            lateness_ms: this.latenessMs,
            ...(payload.trade_id === undefined ? {} : { trade_id: payload.trade_id }),
          },
        }),
      );
    }
    return out;
  }

  /** Every open bucket as a partial candle (`closed: false`), then forgets them: for a final stop without a checkpoint store. */
  drainOpen(): StandardEvent[] {
    const out: StandardEvent[] = [];
    for (const [key, state] of this.#state) {
      const [source, symbol] = key.split("\u0000") as [string, string];
      for (const spec of this.intervals) {
        const buckets = state.buckets.get(spec.name)!;
        for (const b of [...buckets.values()].sort((x, y) => x.start - y.start)) {
          out.push(this.#candle(source, symbol, spec, b, false));
        }
        buckets.clear();
      }
    }
    return out;
  }

  #candle(source: string, symbol: string, spec: IntervalSpec, b: Bucket, closed: boolean): StandardEvent {
    const start = new Date(b.start).toISOString();
    return Events.create({
      event_type: Types.OHLCV,
      source,
      event_id: closed
        ? deterministicId("ohlcv", source, symbol, spec.name, b.start)
        : deterministicId("ohlcv-partial", source, symbol, spec.name, b.start, b.trades),
      timestamp: start,
      correlation_id: null,
      payload: {
        symbol,
        open: b.open,
        high: b.high,
        low: b.low,
        close: b.close,
        volume: toNumber(b.volume),
        timestamp: start,
        interval: spec.name,
        trades: b.trades,
        closed,
      },
    });
  }

  #stateFor(source: string, symbol: string): SymbolState {
    const key = `${source}\u0000${symbol}`;
    let state = this.#state.get(key);
    if (!state) {
      state = {
        maxTime: -Infinity,
        buckets: new Map(this.intervals.map((s) => [s.name, new Map<number, Bucket>()])),
      };
      this.#state.set(key, state);
    }
    return state;
  }

  /**
   * A checkpointed state that holds together: finite prices with low ≤ open, close ≤ high, trades inside
   * their bucket, buckets aligned to their interval, an exact decimal volume, at least one trade.
   * Anything else would come back as NaN or nonsense candles.
   */
  override get stateSchema(): z.ZodType<OhlcvState> {
    const specs = new Map(this.intervals.map((s) => [s.name, s]));
    const time = z.number().int();
    const price = z.number();
    const row = z
      .tuple([
        time,
        time,
        price,
        time,
        price,
        price,
        price,
        time,
        z.string().regex(SERIALIZED_DECIMAL),
        z.number().int().min(1),
      ])
      .refine(
        ([start, end, open, openTime, high, low, close, closeTime]) =>
          low <= Math.min(open, close) &&
          Math.max(open, close) <= high &&
          start <= openTime &&
          openTime <= closeTime &&
          closeTime < end,
        "not a consistent candle",
      );
    return z
      .object({ maxTime: time, buckets: z.record(z.string(), z.array(row)) })
      .superRefine((state, ctx) => {
        for (const [name, rows] of Object.entries(state.buckets)) {
          const spec = specs.get(name);
          if (spec === undefined) continue; // an interval no longer configured: ignored on import
          for (const [i, [start, end]] of rows.entries()) {
            if (spec.bucketStart(start) !== start || spec.bucketEnd(start) !== end)
              ctx.addIssue({ code: "custom", path: ["buckets", name, i], message: `not a ${name} bucket` });
          }
        }
      });
  }

  override exportState(source: string, symbol: string): OhlcvState | undefined {
    const state = this.#state.get(`${source}\u0000${symbol}`);
    if (!state) return undefined;
    const buckets: OhlcvState["buckets"] = {};
    for (const [name, map] of state.buckets) {
      buckets[name] = [...map.values()].map((b) => [
        b.start,
        b.end,
        b.open,
        b.openTime,
        b.high,
        b.low,
        b.close,
        b.closeTime,
        serialize(b.volume),
        b.trades,
      ]);
    }
    return { maxTime: state.maxTime, buckets };
  }

  override importState(source: string, symbol: string, raw: unknown): void {
    const saved = raw as Partial<OhlcvState> | null;
    if (!saved || typeof saved.maxTime !== "number" || typeof saved.buckets !== "object") {
      this.#state.delete(`${source}\u0000${symbol}`);
      return;
    }
    const state = this.#stateFor(source, symbol);
    state.maxTime = saved.maxTime;
    for (const spec of this.intervals) {
      const map = state.buckets.get(spec.name)!;
      map.clear();
      for (const row of saved.buckets[spec.name] ?? []) {
        const [start, end, open, openTime, high, low, close, closeTime, volume, trades] = row;
        map.set(start, {
          start,
          end,
          open,
          openTime,
          high,
          low,
          close,
          closeTime,
          volume: volume === undefined ? ZERO : deserialize(volume),
          trades,
        });
      }
    }
  }
}
