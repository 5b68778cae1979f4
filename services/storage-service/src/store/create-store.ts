import type { DatabaseTarget } from "../config.js";
import { PostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
import { SqliteStore } from "./sqlite-store.js";
import type { Store } from "./store.js";

export interface CreateStoreOptions extends Omit<PostgresStoreOptions, "url"> {
  retentionBatch?: number;
}

/** The store `DATABASE_URL` names (not migrated yet: call `migrate()`). */
export function createStore(target: DatabaseTarget, options: CreateStoreOptions = {}): Store {
  switch (target.kind) {
    case "postgres":
      return new PostgresStore({ url: target.url, ...options });
    case "sqlite":
      return new SqliteStore({
        path: target.path,
        ...(options.retentionBatch === undefined ? {} : { retentionBatch: options.retentionBatch }),
      });
  }
}
