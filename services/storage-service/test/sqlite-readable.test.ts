import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTrade } from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { eventRow } from "../src/store/event-row.js";
import { SQLITE_MIGRATIONS, SqliteStore } from "../src/store/sqlite-store.js";

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function tempPath(): string {
  dir = mkdtempSync(join(tmpdir(), "storage-readable-"));
  return join(dir, "events.db");
}

const trade = makeTrade({ timestamp: "2024-01-15T10:30:00.123Z" });
const row = eventRow(trade, "market", JSON.stringify(trade));

/** What a person types in sqlite3 on the file the service writes. */
function readWithSqlite3(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT time, datetime(time) AS dt, strftime('%Y-%m-%d %H', time) AS hour, stored_time,
                datetime(stored_time) IS NOT NULL AS stored_ok, event_type, symbol,
                json_extract(body, '$.payload.price') AS price
         FROM events_readable WHERE time >= '2024-01-15' AND time < '2024-01-16'`,
      )
      .all();
  } finally {
    db.close();
  }
}

describe("the SQLite file, read by other tools", () => {
  it("has a view whose time works with datetime(), strftime() and string comparison", async () => {
    const path = tempPath();
    const store = new SqliteStore({ path });
    await store.migrate();
    await store.insert([row]);
    await store.close();
    expect(readWithSqlite3(path)).toEqual([
      {
        time: "2024-01-15T10:30:00.123Z",
        dt: "2024-01-15 10:30:00",
        hour: "2024-01-15 10",
        stored_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        stored_ok: 1,
        event_type: "trade",
        symbol: "BTC-USD",
        price: trade.payload.price,
      },
    ]);
  });

  it("gets the view on a database made by the first version (migration 2), rows kept", async () => {
    const path = tempPath();
    const old = new Database(path);
    old.exec(SQLITE_MIGRATIONS[0]!.sql);
    old.exec(`CREATE TABLE storage_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,
      applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
      INSERT INTO storage_migrations (version, name) VALUES (1, 'events table')`);
    old
      .prepare(
        "INSERT INTO events (event_id, ts, stage, event_type, source, symbol, interval, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        row.event_id,
        row.ts_us,
        row.stage,
        row.event_type,
        row.source,
        row.symbol,
        row.interval,
        row.body,
      );
    old.close();
    const store = new SqliteStore({ path });
    await store.migrate();
    await store.migrate(); // idempotent
    await store.close();
    expect(readWithSqlite3(path)).toMatchObject([
      { time: "2024-01-15T10:30:00.123Z", dt: "2024-01-15 10:30:00" },
    ]);
  });
});
