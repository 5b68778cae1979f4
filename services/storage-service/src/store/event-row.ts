import type { Stage, StandardEvent } from "@market-scraper/events";

/** One event as both stores keep it: the queried fields typed, the whole event as JSON text. */
export interface EventRow {
  /** Lower-case, so `ABC…` and `abc…` are the same key in both stores (PostgreSQL's uuid does this). */
  readonly event_id: string;
  /** Event time in microseconds since the epoch (PostgreSQL `timestamptz` precision). */
  readonly ts_us: number;
  /** First token of the subject the event arrived on. */
  readonly stage: Stage;
  readonly event_type: string;
  readonly source: string;
  readonly symbol: string | null;
  /** `payload.interval` (candles), else null. */
  readonly interval: string | null;
  /** The event as received (JSON), so nothing is lost. */
  readonly body: string;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?Z$/;

/**
 * Microseconds since the epoch of an ISO-8601 UTC timestamp (`…Z`, any sub-second precision; digits
 * beyond microseconds are truncated). Exact, unlike `Date.parse`, which stops at milliseconds.
 * Returns undefined for anything else.
 */
export function isoToMicros(iso: string): number | undefined {
  const match = ISO.exec(iso);
  if (match === null) return undefined;
  const ms = Date.UTC(
    Number(match[1]),
    Number(match[2]) - 1,
    Number(match[3]),
    Number(match[4]),
    Number(match[5]),
    Number(match[6] ?? 0),
  );
  if (!Number.isFinite(ms)) return undefined;
  const fraction = (match[7] ?? "").slice(0, 6).padEnd(6, "0");
  return ms * 1000 + Number(fraction);
}

/** `2024-01-15T10:30:00.123456Z`: exact for PostgreSQL, sorts like the number. */
export function microsToIso(us: number): string {
  const ms = Math.floor(us / 1000);
  const micros = us - ms * 1000;
  const base = new Date(ms).toISOString(); // …SS.mmmZ
  return `${base.slice(0, -1)}${String(micros).padStart(3, "0")}Z`;
}

/**
 * A time for API answers, written like the events' own times: milliseconds (`…00.123Z`), with
 * microseconds only when the stored time has them (`…00.123456Z`), so nothing is lost.
 */
export function microsToApiIso(us: number): string {
  return us % 1000 === 0 ? new Date(us / 1000).toISOString() : microsToIso(us);
}

/** Builds the row of an event received on `stage`; `body` is its JSON text. */
export function eventRow(event: StandardEvent, stage: Stage, body: string): EventRow {
  const ts = isoToMicros(event.timestamp);
  if (ts === undefined) throw new TypeError(`unsupported timestamp ${event.timestamp}`);
  const payload = event.payload as { symbol?: unknown; interval?: unknown };
  return {
    event_id: event.event_id.toLowerCase(),
    ts_us: ts,
    stage,
    event_type: event.event_type,
    source: event.source,
    symbol: typeof payload.symbol === "string" ? payload.symbol : null,
    interval: typeof payload.interval === "string" ? payload.interval : null,
    body,
  };
}
