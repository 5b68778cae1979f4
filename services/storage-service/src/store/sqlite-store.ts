import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { EventType } from "@market-scraper/events";
import Database from "better-sqlite3";
import type { CursorPosition } from "./cursor.js";
import type { EventRow } from "./event-row.js";
import type {
  LatestFilter,
  MarketRow,
  PageQuery,
  RetentionResult,
  Store,
  StoreStats,
  StoredPage,
} from "./store.js";
import { mergeMarkets, statsOf } from "./store-results.js";
import { sqliteStoreError } from "./store-error.js";

interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Versioned migrations, applied in one `BEGIN IMMEDIATE` transaction (the write lock serializes
 * processes opening the same file). `ts` is microseconds since the epoch (exact, and fast to index and
 * compare); the `events_readable` view shows it as ISO-8601 text for other tools.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "events table",
    sql: `
      CREATE TABLE events (
        event_id   TEXT    NOT NULL,
        ts         INTEGER NOT NULL,
        stage      TEXT    NOT NULL,
        event_type TEXT    NOT NULL,
        source     TEXT    NOT NULL,
        symbol     TEXT,
        interval   TEXT,
        body       TEXT    NOT NULL,
        stored_at  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
        PRIMARY KEY (event_id, ts, stage)
      );
      CREATE INDEX events_ts_idx ON events (ts, event_id, stage);
      CREATE INDEX events_type_symbol_ts_idx ON events (event_type, symbol, ts, event_id);
      CREATE INDEX events_type_source_symbol_ts_idx ON events (event_type, source, symbol, ts);
    `,
  },
  {
    // For people reading the file with sqlite3 and other tools: the times as ISO-8601 text, on which
    // datetime(), strftime() and string comparisons work. A view costs the writer nothing.
    version: 2,
    name: "events_readable view",
    sql: `
      CREATE VIEW IF NOT EXISTS events_readable AS
      SELECT
        strftime('%Y-%m-%dT%H:%M:%fZ', (ts / 1000) / 1000.0, 'unixepoch') AS time,
        event_id, stage, event_type, source, symbol, interval,
        strftime('%Y-%m-%dT%H:%M:%fZ', stored_at / 1000.0, 'unixepoch') AS stored_time,
        ts, stored_at, body
      FROM events;
    `,
  },
];

export interface SqliteStoreOptions {
  /** A file path, or `:memory:`. */
  path: string;
  /** Rows per retention DELETE. Default 10 000. */
  retentionBatch?: number;
  /** How long a write waits for another connection's lock before failing as an outage. Default 5 s. */
  busyTimeoutMs?: number;
  /**
   * Called with the open connection (`SqliteStore` only: a function cannot reach the worker thread).
   * Tests use it to set connection-local pragmas (`max_page_count`, `query_only`) that simulate outages.
   */
  onOpen?: (db: Database.Database) => void;
}

const MAX_DELETE_ROUNDS = 50;

/**
 * The order `latest` picks the newest row in: time, then the exchange's sequence of an order book
 * (books of one millisecond), then the row key. Only a numeric sequence counts; DESC puts NULL last.
 */
const NEWEST_FIRST = `ts DESC,
  CASE WHEN json_type(body, '$.payload.sequence') IN ('integer', 'real')
       THEN json_extract(body, '$.payload.sequence') END DESC,
  event_id DESC, stage DESC`;

function add(where: string[], values: unknown[], condition: string, value: unknown): void {
  where.push(condition);
  values.push(value);
}

/**
 * Embedded store (better-sqlite3, WAL: other tools can read the file while we write). Calls are
 * synchronous underneath; batches keep each one short.
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly #db: Database.Database;
  readonly #retentionBatch: number;
  #insertMany: ((rows: readonly EventRow[]) => number) | undefined;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new Database(options.path);
    this.#db.pragma("journal_mode = WAL");
    // FULL: a batch is acked on JetStream once committed, so a commit must survive a power loss.
    this.#db.pragma("synchronous = FULL");
    this.#db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    this.#retentionBatch = options.retentionBatch ?? 10_000;
    options.onOpen?.(this.#db);
  }

  #run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw sqliteStoreError(err);
    }
  }

  async migrate(): Promise<void> {
    this.#run(() => {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        this.#db.exec(`CREATE TABLE IF NOT EXISTS storage_migrations (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL,
          applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`);
        const done = new Set(
          (this.#db.prepare("SELECT version FROM storage_migrations").all() as { version: number }[]).map(
            (r) => r.version,
          ),
        );
        const record = this.#db.prepare("INSERT INTO storage_migrations (version, name) VALUES (?, ?)");
        for (const migration of SQLITE_MIGRATIONS) {
          if (done.has(migration.version)) continue;
          this.#db.exec(migration.sql);
          record.run(migration.version, migration.name);
        }
        this.#db.exec("COMMIT");
      } catch (err) {
        this.#db.exec("ROLLBACK");
        throw err;
      }
    });
  }

  async insert(rows: readonly EventRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    return this.#run(() => {
      if (this.#insertMany === undefined) {
        // One prepared statement run per row inside one transaction: SQLite's fastest bulk path
        // (no SQL text to build or parse per batch), and atomic like a multi-row INSERT.
        const insert = this.#db.prepare(
          `INSERT INTO events (event_id, ts, stage, event_type, source, symbol, interval, body)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        );
        this.#insertMany = this.#db.transaction((batch: readonly EventRow[]) => {
          let inserted = 0;
          for (const r of batch) {
            inserted += insert.run(
              r.event_id,
              r.ts_us,
              r.stage,
              r.event_type,
              r.source,
              r.symbol,
              r.interval,
              r.body,
            ).changes;
          }
          return inserted;
        });
      }
      return this.#insertMany(rows);
    });
  }

  async page(query: PageQuery): Promise<StoredPage> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (query.stage !== undefined) add(where, values, "stage = ?", query.stage);
    if (query.event_type !== undefined) add(where, values, "event_type = ?", query.event_type);
    if (query.source !== undefined) add(where, values, "source = ?", query.source);
    if (query.symbol !== undefined) add(where, values, "symbol = ?", query.symbol);
    if (query.interval !== undefined) add(where, values, "interval = ?", query.interval);
    if (query.start_us !== undefined) add(where, values, "ts >= ?", query.start_us);
    if (query.end_us !== undefined) add(where, values, "ts < ?", query.end_us);
    const op = query.order === "asc" ? ">" : "<";
    const dir = query.order === "asc" ? "ASC" : "DESC";
    if (query.after !== undefined) {
      where.push(`(ts, event_id, stage) ${op} (?, ?, ?)`);
      values.push(query.after.ts_us, query.after.event_id, query.after.stage);
    }
    values.push(query.limit + 1);
    const rows = this.#run(
      () =>
        this.#db
          .prepare(
            `SELECT body, ts, event_id, stage FROM events
             ${where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`}
             ORDER BY ts ${dir}, event_id ${dir}, stage ${dir} LIMIT ?`,
          )
          .all(...values) as { body: string; ts: number; event_id: string; stage: string }[],
    );
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const next: CursorPosition | null =
      rows.length > query.limit && last !== undefined
        ? { ts_us: last.ts, event_id: last.event_id, stage: last.stage as CursorPosition["stage"] }
        : null;
    return { events: page.map((r) => JSON.parse(r.body) as unknown), next };
  }

  async latest(filter: LatestFilter): Promise<unknown[]> {
    const where = ["event_type = ?"];
    const values: unknown[] = [filter.event_type];
    if (filter.stage !== undefined) add(where, values, "stage = ?", filter.stage);
    if (filter.source !== undefined) add(where, values, "source = ?", filter.source);
    if (filter.symbol !== undefined) add(where, values, "symbol = ?", filter.symbol);
    // The newest row of each instrument through the (event_type, source, symbol, ts) index, one LIMIT 1
    // per instrument: a window over all rows took seconds once order books (ten a second) piled up.
    const newest = `SELECT body FROM events
      WHERE ${where.join(" AND ")} AND source = m.source AND symbol IS m.symbol
      ORDER BY ${NEWEST_FIRST} LIMIT 1`;
    const one = filter.source !== undefined && filter.symbol !== undefined;
    const sql = one
      ? `SELECT body FROM events WHERE ${where.join(" AND ")} ORDER BY ${NEWEST_FIRST} LIMIT 1`
      : `SELECT (${newest}) AS body FROM (
           SELECT DISTINCT source, symbol FROM events WHERE ${where.join(" AND ")}) AS m
         ORDER BY m.source, m.symbol`;
    // The per-instrument subquery and the instrument list take the same filter values, in that order.
    if (!one) values.push(...values);
    const rows = this.#run(() => this.#db.prepare(sql).all(...values) as { body: string }[]);
    return rows.map((r) => JSON.parse(r.body) as unknown);
  }

  async markets(filter: { source?: string }): Promise<MarketRow[]> {
    const where = ["symbol IS NOT NULL"];
    const values: unknown[] = [];
    if (filter.source !== undefined) add(where, values, "source = ?", filter.source);
    const rows = this.#run(
      () =>
        this.#db
          .prepare(
            `SELECT source, symbol, event_type, min(ts) AS first_us, max(ts) AS last_us FROM events
             WHERE ${where.join(" AND ")} GROUP BY source, symbol, event_type
             ORDER BY source, symbol, event_type`,
          )
          .all(...values) as {
          source: string;
          symbol: string;
          event_type: string;
          first_us: number;
          last_us: number;
        }[],
    );
    return mergeMarkets(rows);
  }

  async stats(): Promise<StoreStats> {
    const rows = this.#run(
      () =>
        this.#db
          .prepare(
            `SELECT event_type, count(*) AS n, min(ts) AS first_us, max(ts) AS last_us
             FROM events GROUP BY event_type`,
          )
          .all() as { event_type: string; n: number; first_us: number; last_us: number }[],
    );
    return statsOf(rows);
  }

  async maintain(_nowMs: number): Promise<void> {
    // One table, nothing to prepare.
  }

  async applyRetention(rules: ReadonlyMap<EventType, number>, nowMs: number): Promise<RetentionResult> {
    let deleted = 0;
    const statement = this.#run(() =>
      this.#db.prepare(
        `DELETE FROM events WHERE rowid IN (
           SELECT rowid FROM events WHERE event_type = ? AND ts < ? LIMIT ?)`,
      ),
    );
    for (const [type, ageMs] of rules) {
      const cutoff = (nowMs - ageMs) * 1000;
      for (let round = 0; round < MAX_DELETE_ROUNDS; round++) {
        const n = this.#run(() => statement.run(type, cutoff, this.#retentionBatch).changes);
        deleted += n;
        if (n < this.#retentionBatch) break;
        // Let queries and inserts in between: each statement is one bounded transaction.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    return { deleted, dropped_partitions: 0 };
  }

  async ping(): Promise<void> {
    this.#run(() => this.#db.prepare("SELECT 1").get());
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
    this.#insertMany = undefined;
  }
}
