import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { EventType } from "@market-scraper/events";
import Database from "better-sqlite3";
import type { EventRow } from "./event-row.js";
import {
  type SqliteRequest,
  type SqliteResponse,
  type StoreMethod,
  deserializeError,
} from "./sqlite-protocol.js";
import type { SqliteStoreOptions } from "./sqlite-store.js";
import type {
  LatestFilter,
  MarketRow,
  PageQuery,
  RetentionResult,
  Store,
  StoreStats,
  StoredPage,
} from "./store.js";
import { StoreError } from "./store-error.js";

interface Pending {
  resolve(value: unknown): void;
  reject(error: StoreError): void;
}

/**
 * A new thread running `sqlite-worker`: the compiled `.js` beside this file, or, when this file runs from
 * its TypeScript source (tests), the `.ts` one, loaded through tsx's loader registered in that thread.
 */
function startWorker(workerData: SqliteStoreOptions): Worker {
  const here = import.meta.url;
  // The thread holds one batch at a time: a small young generation keeps its memory small.
  const resourceLimits = { maxYoungGenerationSizeMb: 4 };
  if (!here.endsWith(".ts"))
    return new Worker(new URL("./sqlite-worker.js", here), { workerData, resourceLimits });
  // tsx's ESM entry (its `import` export), found from here as this module would import it.
  const tsxPackage = createRequire(here).resolve("tsx/package.json");
  const { exports } = JSON.parse(readFileSync(tsxPackage, "utf8")) as {
    exports: Record<string, { import: { default: string } }>;
  };
  const tsx = pathToFileURL(join(dirname(tsxPackage), exports["./esm/api"]!.import.default)).href;
  const entry = new URL("./sqlite-worker.ts", here).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData, resourceLimits });
}

/** One worker thread and the calls it owes answers for. */
interface Thread {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  dead: boolean;
}

/**
 * A `SqliteStore` on a worker thread: better-sqlite3 is synchronous, so on the service's own thread
 * every write stalled receiving, decoding and acking (storage-ingest: end to end 0.29 × the slower raw
 * leg). Here the event loop only hands rows over; SQLite writes on the other core. Calls are served in
 * order, one at a time, with the same results and `StoreError`s as `SqliteStore` (one contract suite).
 *
 * The database is opened once on the calling thread first, so a path that cannot be opened fails the
 * constructor as `SqliteStore`'s does. If the thread dies (it should not), the calls it owed fail as
 * `UNAVAILABLE` and the next call starts a new thread, migrated again first when the store had been: a
 * file database is intact (WAL, synchronous FULL); an in-memory one starts empty. The thread keeps
 * the process alive only while it owes answers.
 */
export class ThreadedSqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly #options: SqliteStoreOptions;
  #thread: Thread | null = null;
  #nextId = 0;
  #closed = false;
  #migrated = false;

  constructor(options: SqliteStoreOptions) {
    this.#options = options;
    if (options.path !== ":memory:") {
      mkdirSync(dirname(options.path), { recursive: true });
      new Database(options.path).close();
    }
    this.#thread = this.#spawn();
  }

  #spawn(): Thread {
    const thread: Thread = { worker: startWorker(this.#options), pending: new Map(), dead: false };
    const { worker } = thread;
    worker.unref(); // referenced only while it owes answers (see #call)
    worker.on("message", (response: SqliteResponse) => this.#settle(thread, response));
    const died = (reason: string) => {
      // `error` (an uncaught exception) is followed by `exit`: only the first counts.
      if (thread.dead) return;
      thread.dead = true;
      if (this.#thread === thread) this.#thread = null;
      worker.unref();
      const owed = [...thread.pending.values()];
      thread.pending.clear();
      const error = new StoreError("UNAVAILABLE", `SQLite thread ${reason}`);
      for (const p of owed) p.reject(error);
    };
    worker.on("error", (err) => died(`failed: ${err.message}`));
    worker.on("exit", (code) => died(`exited (code ${code})`));
    return thread;
  }

  #settle(thread: Thread, response: SqliteResponse): void {
    const pending = thread.pending.get(response.id);
    if (pending === undefined) return;
    thread.pending.delete(response.id);
    if (thread.pending.size === 0) thread.worker.unref();
    if (response.ok) pending.resolve(response.value);
    else pending.reject(deserializeError(response.error));
  }

  /** The live thread; a new one (migrated first, if the store was) after a death. */
  #live(): Thread {
    if (this.#thread !== null) return this.#thread;
    const thread = (this.#thread = this.#spawn());
    // Served before the call that needs the thread: requests are answered in order.
    if (this.#migrated) this.#post(thread, "migrate", []).catch(() => undefined);
    return thread;
  }

  #call<T>(method: StoreMethod, ...args: unknown[]): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError("UNAVAILABLE", "the store is closed"));
    return this.#post(this.#live(), method, args) as Promise<T>;
  }

  #post(thread: Thread, method: StoreMethod, args: readonly unknown[]): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      if (thread.pending.size === 1) thread.worker.ref(); // keep the process alive for the answer
      const request: SqliteRequest = { id, method, args };
      try {
        thread.worker.postMessage(request);
      } catch (err) {
        thread.pending.delete(id);
        if (thread.pending.size === 0) thread.worker.unref();
        reject(new StoreError("INTERNAL", `could not hand the call to the SQLite thread: ${String(err)}`));
      }
    });
  }

  async migrate(): Promise<void> {
    await this.#call("migrate");
    this.#migrated = true;
  }

  insert(rows: readonly EventRow[]): Promise<number> {
    if (rows.length === 0) return Promise.resolve(0);
    return this.#call("insert", rows);
  }

  page(query: PageQuery): Promise<StoredPage> {
    return this.#call("page", query);
  }

  latest(filter: LatestFilter): Promise<unknown[]> {
    return this.#call("latest", filter);
  }

  markets(filter: { source?: string }): Promise<MarketRow[]> {
    return this.#call("markets", filter);
  }

  stats(): Promise<StoreStats> {
    return this.#call("stats");
  }

  maintain(nowMs: number): Promise<void> {
    return this.#call("maintain", nowMs);
  }

  applyRetention(rules: ReadonlyMap<EventType, number>, nowMs: number): Promise<RetentionResult> {
    return this.#call("applyRetention", rules, nowMs);
  }

  ping(): Promise<void> {
    return this.#call("ping");
  }

  /** Closes the database on its thread, then ends the thread. Calls made meanwhile are refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const thread = this.#thread;
    if (thread === null || thread.dead) return;
    const exited = new Promise<void>((resolve) => thread.worker.once("exit", () => resolve()));
    await this.#post(thread, "close", []).catch(() => undefined);
    await thread.worker.terminate();
    await exited;
  }
}
