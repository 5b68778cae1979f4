import { MarketScraperError, errorMessage } from "@market-scraper/events";

/**
 * - `UNAVAILABLE`: an outage: the database, not the rows (unreachable, refusing connections, read-only,
 *   out of resources, locked past the statement timeout, …). Hold the rows and retry later.
 * - `REJECTED`: a healthy database refused these rows (a data error); retrying will not help.
 * - `BAD_CURSOR`: a query cursor that this store did not produce.
 * - `INTERNAL`: anything else.
 */
export type StoreErrorCode = "UNAVAILABLE" | "REJECTED" | "BAD_CURSOR" | "INTERNAL";

export class StoreError extends MarketScraperError<StoreErrorCode> {
  override readonly name = "StoreError";
}

export { errorMessage };

/** Node socket and resolver errors: the server cannot be reached (also any error with a `syscall`). */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) that say the database,
 * not the row, is at fault. Classes: 08 connection exception, 28 invalid authorization, 3D database
 * missing, 53 insufficient resources, 57 operator intervention (57P01 admin shutdown, 57P03 cannot
 * connect now, 57014 statement timeout), 58 system error, XX internal error.
 */
const PG_OUTAGE_CLASSES = /^(08|28|3D|53|57|58|XX)/;
const PG_OUTAGE_CODES = new Set([
  "25006", // read_only_sql_transaction (default_transaction_read_only, a standby)
  "25P03", // idle_in_transaction_session_timeout
  "55000", // object_not_in_prerequisite_state: "database … is not currently accepting connections"
  "55006", // object_in_use
  "55P03", // lock_not_available (lock_timeout)
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "42501", // insufficient_privilege: a grant revoked, not a bad row
  "42P01", // undefined_table: the schema is gone, not a bad row
]);
/** pg's own messages when a pooled connection dies or cannot be made. */
const PG_CLIENT_OUTAGE =
  /Connection terminated|connection error|timeout exceeded when trying to connect|Client was closed|not queryable/i;

/**
 * One classification of PostgreSQL errors: an outage (`UNAVAILABLE`: hold, retry, readiness off) or
 * rows that a healthy database refuses (`REJECTED`: dead-letter them).
 */
export function postgresStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const { code, syscall } = (err ?? {}) as { code?: unknown; syscall?: unknown };
  const outage =
    typeof syscall === "string" || // any node system error (socket, DNS, …)
    (typeof code === "string"
      ? SOCKET_CODES.has(code) || PG_OUTAGE_CODES.has(code) || PG_OUTAGE_CLASSES.test(code)
      : PG_CLIENT_OUTAGE.test(errorMessage(err)));
  return outage
    ? new StoreError("UNAVAILABLE", `database unavailable: ${errorMessage(err)}`, { cause: err })
    : new StoreError("REJECTED", errorMessage(err), { cause: err });
}

/**
 * SQLite result codes (https://www.sqlite.org/rescode.html) that say the database file, not the row, is
 * at fault: locked by another connection, read-only (permissions, moved, `query_only`), disk or page
 * limit full, I/O errors, cannot open, out of memory, corrupt. Extended codes share their primary's name.
 */
const SQLITE_OUTAGE = /^SQLITE_(BUSY|LOCKED|READONLY|FULL|IOERR|CANTOPEN|PROTOCOL|NOMEM|CORRUPT|NOTADB|PERM)/;

/** The same classification for SQLite (better-sqlite3's `SqliteError.code`). */
export function sqliteStoreError(err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && SQLITE_OUTAGE.test(code)
    ? new StoreError("UNAVAILABLE", `database unavailable: ${errorMessage(err)}`, { cause: err })
    : new StoreError("REJECTED", errorMessage(err), { cause: err });
}
