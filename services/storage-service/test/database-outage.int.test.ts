import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeEvent, subjectFor, type TradeEvent } from "@market-scraper/events";
import { HealthState, createLogger } from "@market-scraper/runtime";
import {
  type NatsServerHandle,
  type PostgresServerHandle,
  makeTrades,
  startNats,
  startPostgres,
  waitFor,
} from "@market-scraper/testkit";
import { jetstream } from "@nats-io/jetstream";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import type Database from "better-sqlite3";
import BetterSqlite from "better-sqlite3";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DATABASE_HEALTH_CHECK } from "../src/ingest/insert-retry.js";
import type { StorageService } from "../src/service.js";
import { PostgresStore } from "../src/store/postgres-store.js";
import { SqliteStore } from "../src/store/sqlite-store.js";
import type { Store } from "../src/store/store.js";
import { startStorage } from "./helpers.js";

/**
 * Database outages while trades arrive at a steady rate through a real (private) nats-server: the
 * service holds its batches, is not ready meanwhile, and stores exactly what was published once the
 * database is back. Nothing is dead-lettered: no row is at fault.
 */

const logger = createLogger({
  service: "storage-outage-test",
  level: (process.env.TEST_LOG_LEVEL as "silent" | undefined) ?? "silent",
});
/** How long each outage lasts: longer than the statement/busy timeouts and than ack_wait / 3. */
const OUTAGE_MS = 3_000;
/** Trades published before, during and after the outage, one every `PUBLISH_EVERY_MS`. */
const PUBLISH_EVERY_MS = 10;

/** Records the transitions of the `database` readiness check, and every reason it was off. */
class RecordingHealth extends HealthState {
  readonly transitions: boolean[] = [];
  readonly reasons: string[] = [];
  override setCheck(name: string, ok: boolean, detail?: string): void {
    if (name === DATABASE_HEALTH_CHECK) {
      if (this.transitions.at(-1) !== ok) this.transitions.push(ok);
      if (!ok && detail !== undefined) this.reasons.push(detail);
    }
    super.setCheck(name, ok, detail);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function sum(
  service: StorageService,
  name: "deadLetters" | "outageSeconds" | "received",
): Promise<number> {
  return (await service.metrics[name].get()).values.reduce((s, v) => s + v.value, 0);
}

/** Every event id in the store, through the store's own paging. */
async function storedIds(store: Store): Promise<string[]> {
  const ids: string[] = [];
  let after;
  for (;;) {
    const page = await store.page({ order: "asc", limit: 1_000, ...(after ? { after } : {}) });
    for (const e of page.events) ids.push((e as { event_id: string }).event_id);
    if (page.next === null) return ids;
    after = page.next;
  }
}

describe("storage ingest through database outages", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeEach(async () => {
    nats = await startNats({ isolated: true });
    nc = await connect({ servers: nats.url, noAsyncTraces: true, maxReconnectAttempts: -1 });
  });
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
    await nc.close();
    await nats.stop();
  });

  /**
   * Starts the service on `store`, publishes trades steadily for 1 s, runs `outage.begin`, keeps
   * publishing for `OUTAGE_MS`, runs `outage.end`, publishes 1 s more, then checks: stored = published
   * (count and ids), no dead letters, readiness went off (with the reason) and back on.
   */
  async function survives(
    store: Store,
    outage: { begin: () => Promise<void> | void; end: () => Promise<void> | void },
    expectedReason: RegExp,
    options: { noRedeliveries?: boolean } = {},
  ): Promise<void> {
    const health = new RecordingHealth();
    const { service, stop } = await startStorage(nats.url, store, {
      logger,
      health,
      micro: false,
      env: {
        STORAGE_SUBJECTS: "market.>",
        STORAGE_BATCH_SIZE: "50",
        STORAGE_FLUSH_MS: "20ms",
        // Shorter than the outage: the held messages must be kept alive (`working()`).
        STORAGE_ACK_WAIT: "2s",
        STORAGE_MAX_BACKOFF: "500ms",
      },
    });
    cleanups.push(stop);
    expect(health.ready).toBe(true);

    const js = jetstream(nc);
    const trades = makeTrades(2_000, { startMs: Date.now(), stepMs: 1 });
    const published: TradeEvent[] = [];
    const publishing = { on: true };
    const publisher = (async () => {
      for (const trade of trades) {
        if (!publishing.on) break;
        await js.publish(subjectFor(trade), encodeEvent(trade), { msgID: trade.event_id });
        published.push(trade);
        await sleep(PUBLISH_EVERY_MS);
      }
    })();

    await sleep(1_000);
    const beforeOutage = published.length;
    await outage.begin();
    await waitFor(() => !health.ready, { timeoutMs: OUTAGE_MS, message: "readiness off during the outage" });
    await sleep(OUTAGE_MS);
    await outage.end();
    await sleep(1_000);
    publishing.on = false;
    await publisher;
    expect(published.length).toBeGreaterThan(beforeOutage);

    await waitFor(async () => (await store.stats()).total_events >= published.length && health.ready, {
      timeoutMs: 30_000,
      intervalMs: 100,
      message: `${published.length} rows stored and ready again`,
    });
    const ids = await storedIds(store);
    expect(ids.length).toBe(published.length);
    expect(new Set(ids)).toEqual(new Set(published.map((t) => t.event_id)));
    expect(await sum(service, "deadLetters")).toBe(0);
    // Held messages were kept alive (`working()`), even through an attempt longer than ack_wait.
    if (options.noRedeliveries === true) expect(await sum(service, "received")).toBe(published.length);
    expect(await sum(service, "outageSeconds")).toBeGreaterThan(0);
    // On, off during the outage (at least once: the reason may change), on again at the end.
    expect(health.transitions[0]).toBe(true);
    expect(health.transitions).toContain(false);
    expect(health.transitions.at(-1)).toBe(true);
    expect(health.reasons.some((r) => expectedReason.test(r))).toBe(true);
    await stop();
  }

  describe("PostgreSQL", () => {
    let db: PostgresServerHandle;
    let admin: pg.Client;
    let store: PostgresStore;

    beforeEach(async () => {
      db = await startPostgres();
      const adminUrl = new URL(db.url);
      adminUrl.pathname = "/postgres";
      admin = new pg.Client({ connectionString: adminUrl.toString() });
      await admin.connect();
      // Longer than ack_wait (2 s): an insert waiting behind a lock outlasts it.
      store = new PostgresStore({ url: db.url, poolSize: 2, statementTimeoutMs: 2_500 });
    });
    afterEach(async () => {
      await admin.query(`ALTER DATABASE "${db.database}" ALLOW_CONNECTIONS true`).catch(() => undefined);
      await admin.query(`ALTER DATABASE "${db.database}" RESET ALL`).catch(() => undefined);
      await store.close();
      await admin.end();
      await db.stop();
    });

    /** Ends every session on our database (never anyone else's). */
    async function terminateBackends(): Promise<void> {
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [db.database],
      );
    }

    it("refused connections (ALLOW_CONNECTIONS false, sessions terminated): stored = published", async () => {
      await survives(
        store,
        {
          begin: async () => {
            await admin.query(`ALTER DATABASE "${db.database}" ALLOW_CONNECTIONS false`);
            await terminateBackends();
          },
          end: async () => {
            await admin.query(`ALTER DATABASE "${db.database}" ALLOW_CONNECTIONS true`);
          },
        },
        /database unavailable/,
      );
    });

    it("read-only (default_transaction_read_only, sessions terminated): stored = published", async () => {
      await survives(
        store,
        {
          begin: async () => {
            await admin.query(`ALTER DATABASE "${db.database}" SET default_transaction_read_only = on`);
            await terminateBackends();
          },
          end: async () => {
            await admin.query(`ALTER DATABASE "${db.database}" RESET default_transaction_read_only`);
          },
        },
        /read-only/,
      );
    });

    it("a lock held beyond the statement timeout (and ack_wait): stored = published, none redelivered", async () => {
      const locker = new pg.Client({ connectionString: db.url });
      await locker.connect();
      try {
        await survives(
          store,
          {
            begin: async () => {
              await locker.query("BEGIN");
              await locker.query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
            },
            end: async () => {
              await locker.query("COMMIT");
            },
          },
          /statement timeout/,
          { noRedeliveries: true },
        );
      } finally {
        await locker.end();
      }
    });
  });

  describe("SQLite", () => {
    let dir: string;
    let path: string;
    let connection: Database.Database | undefined;
    let store: SqliteStore;

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), "storage-outage-"));
      path = join(dir, "events.db");
      store = new SqliteStore({
        path,
        busyTimeoutMs: 100,
        onOpen: (db) => {
          connection = db;
        },
      });
    });
    afterEach(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("locked by another connection (BEGIN EXCLUSIVE): stored = published", async () => {
      const other = new BetterSqlite(path);
      try {
        await survives(
          store,
          { begin: () => void other.exec("BEGIN EXCLUSIVE"), end: () => void other.exec("COMMIT") },
          /locked/,
        );
      } finally {
        other.close();
      }
    });

    it("read-only (query_only): stored = published", async () => {
      await survives(
        store,
        {
          begin: () => void connection!.pragma("query_only = 1"),
          end: () => void connection!.pragma("query_only = 0"),
        },
        /readonly/,
      );
    });

    it("disk full (max_page_count reached): stored = published", async () => {
      await survives(
        store,
        {
          begin: () => {
            const pages = connection!.pragma("page_count", { simple: true }) as number;
            connection!.pragma(`max_page_count = ${pages}`);
          },
          end: () => void connection!.pragma("max_page_count = 1073741823"),
        },
        /full/,
      );
    });
  });
});
