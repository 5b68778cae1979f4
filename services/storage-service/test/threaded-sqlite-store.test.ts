import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTrade } from "@market-scraper/testkit";
import type * as WorkerThreads from "node:worker_threads";
import { describe, expect, it, vi } from "vitest";
import { createStore } from "../src/store/create-store.js";
import { eventRow } from "../src/store/event-row.js";
import { SqliteStore } from "../src/store/sqlite-store.js";
import { StoreError } from "../src/store/store-error.js";
import { ThreadedSqliteStore } from "../src/store/threaded-sqlite-store.js";
import { storeContract } from "./store-contract.js";

// Every SQLite thread the store starts, so a test can end one as a crash would: the real Worker, only
// recorded (the store has no test hook for this).
const threads = vi.hoisted(() => [] as WorkerThreads.Worker[]);
vi.mock("node:worker_threads", async (importOriginal) => {
  const actual = await importOriginal<typeof WorkerThreads>();
  class RecordedWorker extends actual.Worker {
    constructor(...args: ConstructorParameters<typeof actual.Worker>) {
      super(...args);
      threads.push(this);
    }
  }
  return { ...actual, Worker: RecordedWorker };
});

/** Ends the store's newest thread abruptly (as a crash would); resolves once it has exited. */
function crashThread(): Promise<number> {
  const thread = threads.at(-1);
  if (thread === undefined) throw new Error("no SQLite thread started");
  return thread.terminate();
}

storeContract("SQLite on a worker thread, in memory", async () => {
  const store = new ThreadedSqliteStore({ path: ":memory:" });
  return { store, cleanup: () => store.close() };
});

storeContract("SQLite on a worker thread, file (WAL)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "storage-sqlite-thread-"));
  const path = join(dir, "data", "events.db");
  const store = new ThreadedSqliteStore({ path });
  return {
    store,
    another: () => new ThreadedSqliteStore({ path }),
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

const rowOf = (trade = makeTrade()) => eventRow(trade, "market", JSON.stringify(trade));

describe("ThreadedSqliteStore", () => {
  it("is what createStore gives for a sqlite: DATABASE_URL", async () => {
    const store = createStore({ kind: "sqlite", path: ":memory:" });
    expect(store).toBeInstanceOf(ThreadedSqliteStore);
    await store.close();
  });

  it("fails its constructor on a path that cannot be opened, as SqliteStore does", () => {
    const dir = mkdtempSync(join(tmpdir(), "storage-sqlite-thread-"));
    try {
      // A directory is not a database file.
      expect(() => new ThreadedSqliteStore({ path: dir })).toThrow();
      expect(() => new SqliteStore({ path: dir })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps the order of calls: a page after an insert sees the insert", async () => {
    const store = new ThreadedSqliteStore({ path: ":memory:" });
    try {
      await store.migrate();
      const rows = Array.from({ length: 50 }, () => rowOf());
      const inserts = rows.map((row) => store.insert([row]));
      const page = store.page({ order: "asc", limit: 100 });
      expect(await Promise.all(inserts)).toEqual(rows.map(() => 1));
      expect((await page).events).toHaveLength(50);
    } finally {
      await store.close();
    }
  });

  it("answers a refused row with the same StoreError as SqliteStore", async () => {
    const threaded = new ThreadedSqliteStore({ path: ":memory:" });
    const direct = new SqliteStore({ path: ":memory:" });
    try {
      // Not migrated: no events table.
      const a: unknown = await threaded.insert([rowOf()]).catch((e: unknown) => e);
      const b: unknown = await direct.insert([rowOf()]).catch((e: unknown) => e);
      expect(a).toBeInstanceOf(StoreError);
      expect((a as StoreError).code).toBe((b as StoreError).code);
      expect((a as StoreError).message).toBe((b as StoreError).message);
    } finally {
      await threaded.close();
      await direct.close();
    }
  });

  it("survives the thread dying: pending calls fail UNAVAILABLE, the next call runs on a new thread", async () => {
    const dir = mkdtempSync(join(tmpdir(), "storage-sqlite-thread-"));
    const store = new ThreadedSqliteStore({ path: join(dir, "events.db") });
    try {
      await store.migrate();
      expect(await store.insert([rowOf()])).toBe(1);
      // The thread is told to stop before the call is handed to it, so it cannot answer the call first
      // (it did, now and then, when the call went first); the call is owed when the thread exits.
      const crashed = crashThread();
      const pending = store.stats();
      await crashed;
      const error: unknown = await pending.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe("UNAVAILABLE");
      expect(await store.insert([rowOf()])).toBe(1);
      expect((await store.stats()).total_events).toBe(2);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("migrates a new thread again: in memory the data is gone after a crash, the schema is not", async () => {
    const store = new ThreadedSqliteStore({ path: ":memory:" });
    try {
      await store.migrate();
      expect(await store.insert([rowOf()])).toBe(1);
      await crashThread();
      expect(await store.insert([rowOf()])).toBe(1);
      expect((await store.stats()).total_events).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("refuses calls once closed, and from the moment close() is called", async () => {
    const store = new ThreadedSqliteStore({ path: ":memory:" });
    await store.migrate();
    const closing = store.close();
    await expect(store.insert([rowOf()])).rejects.toMatchObject({ code: "UNAVAILABLE" });
    await closing;
    await store.close();
    await expect(store.ping()).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});
