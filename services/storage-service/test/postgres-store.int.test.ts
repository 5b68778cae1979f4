import { EVENT_TYPES } from "@market-scraper/events";
import { makeError, makeTrade, startPostgres } from "@market-scraper/testkit";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { eventRow } from "../src/store/event-row.js";
import { POSTGRES_MIGRATIONS, PostgresStore, queryableJson } from "../src/store/postgres-store.js";
import { StoreError } from "../src/store/store-error.js";
import { storeContract } from "./store-contract.js";

const DAY_MS = 86_400_000;

storeContract("PostgreSQL", async () => {
  const db = await startPostgres();
  const opened: PostgresStore[] = [];
  const open = () => {
    const store = new PostgresStore({ url: db.url, poolSize: 2 });
    opened.push(store);
    return store;
  };
  return {
    store: open(),
    another: open,
    async cleanup() {
      await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
      await db.stop();
    },
  };
});

describe("PostgresStore specifics", () => {
  it("upgrades a version-1 database (jsonb body) in place, keeping its rows, however long it takes", async () => {
    const db = await startPostgres();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // The rewrite of 200,000 rows takes longer than this statement timeout: migrations are exempt.
    let store = new PostgresStore({ url: db.url, statementTimeoutMs: 100 });
    try {
      const v1 = POSTGRES_MIGRATIONS.find((m) => m.version === 1)!;
      await client.query(v1.sql);
      await client.query(`CREATE TABLE storage_migrations (
        version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      await client.query("INSERT INTO storage_migrations (version, name) VALUES (1, $1)", [v1.name]);
      await client.query(
        `CREATE TABLE events_old PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')`,
      );
      const trade = makeTrade({ timestamp: "2024-01-15T10:30:00.000Z" });
      await client.query(
        `INSERT INTO events (event_id, ts, stage, event_type, source, symbol, body)
         VALUES ($1, $2, 'market', 'trade', $3, $4, $5::jsonb)`,
        [trade.event_id, trade.timestamp, trade.source, trade.payload.symbol, JSON.stringify(trade)],
      );
      await client.query(
        `INSERT INTO events (event_id, ts, stage, event_type, source, symbol, body)
         SELECT gen_random_uuid(), '2024-01-20T00:00:00Z'::timestamptz + n * interval '1 ms', 'market',
                'trade', 'filler', 'ETH-USD', jsonb_build_object('n', n, 'pad', repeat('x', 400))
         FROM generate_series(1, 200000) AS n`,
      );
      await store.migrate();
      await store.close();
      // Read back through a store with the default timeout: a GROUP BY over 200,001 rows is not instant.
      store = new PostgresStore({ url: db.url });
      const type = await client.query<{ data_type: string }>(
        `SELECT data_type FROM information_schema.columns WHERE table_name = 'events' AND column_name = 'body'`,
      );
      expect(type.rows[0]?.data_type).toBe("json");
      expect((await store.page({ order: "asc", limit: 1 })).events).toEqual([
        JSON.parse(JSON.stringify(trade)),
      ]);
      expect((await store.stats()).total_events).toBe(200_001);
      const versions = await client.query<{ version: number }>(
        "SELECT version FROM storage_migrations ORDER BY 1",
      );
      expect(versions.rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    } finally {
      await store.close();
      await client.end();
      await db.stop();
    }
  });

  it("partitions by day, creates partitions ahead and on demand, drops whole partitions by retention", async () => {
    const db = await startPostgres();
    const store = new PostgresStore({ url: db.url, partitionsAhead: 2 });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await store.migrate();
      const now = Date.parse("2024-06-10T12:00:00Z");
      await store.maintain(now);
      const trade = makeTrade({ timestamp: "2024-01-15T10:30:00.000Z" });
      expect(await store.insert([eventRow(trade, "market", JSON.stringify(trade))])).toBe(1);
      const partitions = async () =>
        (
          await client.query<{ relname: string }>(
            `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'events'::regclass ORDER BY 1`,
          )
        ).rows.map((r) => r.relname);
      expect(await partitions()).toEqual([
        "events_p20240115",
        "events_p20240610",
        "events_p20240611",
        "events_p20240612",
      ]);
      // Every type has a retention: partitions wholly older than the longest one are dropped.
      const rules = new Map(EVENT_TYPES.map((t) => [t, 30 * DAY_MS] as const));
      const result = await store.applyRetention(rules, now);
      expect(result.dropped_partitions).toBe(1);
      expect(await partitions()).toEqual(["events_p20240610", "events_p20240611", "events_p20240612"]);
      // A late event for a dropped day brings its partition back.
      expect(await store.insert([eventRow(trade, "market", JSON.stringify(trade))])).toBe(1);
      expect(await partitions()).toContain("events_p20240115");
    } finally {
      await client.end();
      await store.close();
      await db.stop();
    }
  });

  it("round-trips a batch of bodies with quotes, backslashes, escapes and non-ASCII text, in order", async () => {
    const db = await startPostgres();
    const store = new PostgresStore({ url: db.url });
    try {
      await store.migrate();
      const notes = ['say "hi"', 'back\\slash \\"', "sep \u001e escaped", "ünïcødé ✓ 🚀", "", "{},[]"];
      const trades = notes.map((note, i) => ({
        ...makeTrade({ timestamp: new Date(Date.parse("2024-01-15T10:30:00Z") + i).toISOString() }),
        note,
      }));
      const rows = trades.map((t) => eventRow(t, "market", JSON.stringify(t)));
      expect(await store.insert(rows)).toBe(trades.length);
      const { events } = await store.page({ order: "asc", limit: 100 });
      expect(events).toEqual(trades.map((t) => JSON.parse(JSON.stringify(t)) as unknown));
      // A raw record separator is not JSON: the batch is refused, as any body that is not JSON.
      const raw = eventRow(makeTrade(), "market", '{"note":"\u001e"}'); // the raw character
      expect(raw.body.includes("\u001e")).toBe(true);
      await expect(store.insert([raw])).rejects.toMatchObject({ code: "REJECTED" });
    } finally {
      await store.close();
      await db.stop();
    }
  });

  it("stores an error event whose message holds \\u0000 so that body->'payload'->>'message' answers", async () => {
    const db = await startPostgres();
    const store = new PostgresStore({ url: db.url });
    const client = new pg.Client({ connectionString: db.url });
    try {
      await store.migrate();
      await client.connect();
      const error = makeError({ payload: { message: "bad frame \u0000 from the exchange \\u0000" } });
      const body = JSON.stringify(error);
      expect(body).toContain("\\u0000");
      expect(await store.insert([eventRow(error, "system", body)])).toBe(1);
      const r = await client.query<{ message: string }>(
        "SELECT body->'payload'->>'message' AS message FROM events WHERE event_id = $1",
        [error.event_id],
      );
      // The NUL becomes U+FFFD; the text "\u0000" (an escaped backslash) stays as it was.
      expect(r.rows).toEqual([{ message: "bad frame \ufffd from the exchange \\u0000" }]);
    } finally {
      await client.end();
      await store.close();
      await db.stop();
    }
  });

  it("queryableJson replaces only real \\u0000 escapes", () => {
    expect(queryableJson('{"a":"x"}')).toBe('{"a":"x"}');
    expect(queryableJson(JSON.stringify({ a: "\u0000\u0000" }))).toBe('{"a":"\\ufffd\\ufffd"}');
    expect(queryableJson(JSON.stringify({ a: "\\u0000" }))).toBe(JSON.stringify({ a: "\\u0000" }));
    expect(JSON.parse(queryableJson(JSON.stringify({ a: "\\\u0000" })))).toEqual({ a: "\\\ufffd" });
    expect(JSON.parse(queryableJson(JSON.stringify({ "k\u0000": 1 })))).toEqual({ "k\ufffd": 1 });
  });

  it("reports rows the database refuses as REJECTED and an unreachable server as UNAVAILABLE", async () => {
    const db = await startPostgres();
    const store = new PostgresStore({ url: db.url });
    try {
      await store.migrate();
      const trade = makeTrade();
      // A NUL escape is valid JSON that PostgreSQL's json operators cannot turn into text: it is
      // stored as U+FFFD (see queryableJson), and the row is stored, not refused.
      const nul = { ...trade, note: "nul \u0000 byte" };
      expect(await store.insert([eventRow(trade, "market", JSON.stringify(nul))])).toBe(1);
      expect((await store.page({ order: "asc", limit: 1 })).events).toEqual([
        { ...JSON.parse(JSON.stringify(nul)), note: "nul \ufffd byte" },
      ]);
      const bad = eventRow(makeTrade(), "market", '{"truncated": ');
      await expect(store.insert([bad])).rejects.toMatchObject({ code: "REJECTED" });
    } finally {
      await store.close();
      await db.stop();
    }
    const down = new PostgresStore({ url: "postgres://postgres@127.0.0.1:1/none" });
    const err: unknown = await down.insert([eventRow(makeTrade(), "market", "{}")]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe("UNAVAILABLE");
    await down.close();
  });
});
