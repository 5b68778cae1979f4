import type { EventType, Stage } from "@market-scraper/events";
import type { CursorPosition } from "./cursor.js";
import type { EventRow } from "./event-row.js";

/** A filter over stored events, in the stores' own units (microseconds). */
export interface PageQuery {
  readonly stage?: Stage;
  readonly event_type?: string;
  readonly source?: string;
  readonly symbol?: string;
  readonly interval?: string;
  /** Inclusive. */
  readonly start_us?: number;
  /** Exclusive. */
  readonly end_us?: number;
  /** Rows strictly after this position in `order`. */
  readonly after?: CursorPosition;
  readonly order: "asc" | "desc";
  readonly limit: number;
}

/** Rows in (ts, event_id, stage) order; `next` is the position of the last one when more follow. */
export interface StoredPage {
  readonly events: unknown[];
  readonly next: CursorPosition | null;
}

export interface LatestFilter {
  readonly stage?: Stage;
  readonly event_type: string;
  readonly source?: string;
  readonly symbol?: string;
}

export interface MarketRow {
  readonly source: string;
  readonly symbol: string;
  readonly event_types: EventType[];
  readonly first_us: number;
  readonly last_us: number;
}

export interface StoreStats {
  readonly total_events: number;
  readonly by_type: Record<string, number>;
  readonly oldest_us: number | null;
  readonly newest_us: number | null;
}

export interface RetentionResult {
  readonly deleted: number;
  readonly dropped_partitions: number;
}

/**
 * Where events are kept. Two implementations pass one contract suite (`test/store-contract.ts`):
 * `PostgresStore` and `SqliteStore`. Rows are keyed by (event_id, timestamp, stage); inserts are
 * idempotent. Errors are `StoreError`s: `UNAVAILABLE` (retry later) or `REJECTED` (bad rows).
 */
export interface Store {
  readonly kind: "postgres" | "sqlite";
  /** Applies the versioned migrations not applied yet; safe when several replicas start at once. */
  migrate(): Promise<void>;
  /** Stores the rows in one transaction; rows already stored are skipped. Returns the number inserted. */
  insert(rows: readonly EventRow[]): Promise<number>;
  page(query: PageQuery): Promise<StoredPage>;
  /** The newest event per (source, symbol) matching the filter, ordered by source, symbol. */
  latest(filter: LatestFilter): Promise<unknown[]>;
  /** Every (source, symbol) with market data, ordered by source, symbol. */
  markets(filter: { source?: string }): Promise<MarketRow[]>;
  stats(): Promise<StoreStats>;
  /** Housekeeping that does not depend on data (PostgreSQL: partitions for the days ahead). */
  maintain(nowMs: number): Promise<void>;
  /** Removes events older than the retention of their type; bounded work per call. */
  applyRetention(rules: ReadonlyMap<EventType, number>, nowMs: number): Promise<RetentionResult>;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
