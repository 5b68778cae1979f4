export {
  parseDatabaseUrl,
  parseRetention,
  storageEnv,
  type DatabaseTarget,
  type RetentionRules,
  type StorageConfig,
} from "./config.js";
export {
  SERVICE_NAME,
  createStorageService,
  type StorageService,
  type StorageServiceConfig,
  type StorageIngest,
  type StorageServiceDeps,
} from "./service.js";
export { BusIngest, type BusIngestDeps, type BusIngestOptions } from "./ingest/bus-ingest.js";
export { createStorageMetrics, type StorageMetrics } from "./metrics.js";
export { effectiveRetention } from "./retention.js";
export {
  DATABASE_HEALTH_CHECK,
  IngestWorker,
  consumerName,
  type IngestOptions,
} from "./ingest/ingest-worker.js";
export { QUERY_ERROR_STATUS, QueryError, StorageQueries, type QueryName } from "./query/storage-queries.js";
export { createStore, type CreateStoreOptions } from "./store/create-store.js";
export { PostgresStore, POSTGRES_MIGRATIONS, type PostgresStoreOptions } from "./store/postgres-store.js";
export { SqliteStore, SQLITE_MIGRATIONS, type SqliteStoreOptions } from "./store/sqlite-store.js";
export { ThreadedSqliteStore } from "./store/threaded-sqlite-store.js";
export { decodeCursor, encodeCursor, type CursorPosition } from "./store/cursor.js";
export { eventRow, isoToMicros, microsToIso, type EventRow } from "./store/event-row.js";
export { StoreError, type StoreErrorCode } from "./store/store-error.js";
export type {
  LatestFilter,
  MarketRow,
  PageQuery,
  RetentionResult,
  Store,
  StoreStats,
  StoredPage,
} from "./store/store.js";
