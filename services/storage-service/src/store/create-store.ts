import type { DatabaseTarget } from "../config.js";
import { PostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
import type { Store } from "./store.js";
import { ThreadedSqliteStore } from "./threaded-sqlite-store.js";

export interface CreateStoreOptions extends Omit<PostgresStoreOptions, "url"> {
  retentionBatch?: number;
}

/**
 * The store `DATABASE_URL` names (not migrated yet: call `migrate()`). SQLite runs on a worker thread
 * (`ThreadedSqliteStore`), so its synchronous writes do not stall the service's event loop.
 */
export function createStore(target: DatabaseTarget, options: CreateStoreOptions = {}): Store {
  switch (target.kind) {
    case "postgres":
      return new PostgresStore({ url: target.url, ...options });
    case "sqlite":
      return new ThreadedSqliteStore({
        path: target.path,
        ...(options.retentionBatch === undefined ? {} : { retentionBatch: options.retentionBatch }),
      });
  }
}
