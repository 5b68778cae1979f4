import { MarketScraperError } from "@market-scraper/events";

/**
 * Candle intervals: `<n><unit>` with unit s, m, h, d (fixed lengths, buckets aligned to the Unix epoch
 * in UTC), w (weeks starting Monday 00:00 UTC: the epoch was a Thursday, so week buckets are shifted by
 * 4 days, as exchanges do) and M (calendar months, aligned to January 1970).
 */
export interface IntervalSpec {
  readonly name: string;
  /** Start (ms since epoch) of the bucket holding `timeMs`. */
  bucketStart(timeMs: number): number;
  /** End (exclusive) of the bucket that starts at `startMs`. */
  bucketEnd(startMs: number): number;
}

/** A candle interval that is not `<n><unit>` (s, m, h, d, w, M) or is too long. */
export class IntervalError extends MarketScraperError<"INVALID_INTERVAL"> {
  override readonly name = "IntervalError";

  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_INTERVAL", message, options);
  }
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const MONDAY_OFFSET_MS = 4 * 86_400_000;

function fixed(name: string, lengthMs: number, offsetMs: number): IntervalSpec {
  return {
    name,
    bucketStart: (t) => Math.floor((t - offsetMs) / lengthMs) * lengthMs + offsetMs,
    bucketEnd: (start) => start + lengthMs,
  };
}

function months(name: string, count: number): IntervalSpec {
  const startOfIndex = (index: number) =>
    Date.UTC(1970 + Math.floor(index / 12), ((index % 12) + 12) % 12, 1);
  return {
    name,
    bucketStart: (t) => {
      const d = new Date(t);
      const index = (d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth();
      return startOfIndex(Math.floor(index / count) * count);
    },
    bucketEnd: (start) => {
      const d = new Date(start);
      return startOfIndex((d.getUTCFullYear() - 1970) * 12 + d.getUTCMonth() + count);
    },
  };
}

/** Parses `1m`, `15m`, `4h`, `1d`, `1w`, `1M`… Throws `IntervalError`. */
export function parseInterval(name: string): IntervalSpec {
  const m = /^([1-9][0-9]*)([smhdwM])$/.exec(name);
  if (!m) throw new IntervalError(`'${name}' is not an interval such as 1m, 5m, 1h, 1d`);
  const count = Number(m[1]);
  const unit = m[2]!;
  if (unit === "M") return months(name, count);
  const lengthMs = count * UNIT_MS[unit]!;
  if (!Number.isSafeInteger(lengthMs)) throw new IntervalError(`'${name}' is too long`);
  return fixed(name, lengthMs, unit === "w" ? MONDAY_OFFSET_MS : 0);
}
