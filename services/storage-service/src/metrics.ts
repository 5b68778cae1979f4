import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The storage service's Prometheus metrics (`market_scraper_storage_*`). */
export interface StorageMetrics {
  readonly received: Counter;
  readonly stored: Counter;
  readonly duplicates: Counter;
  readonly deadLetters: Counter<"reason">;
  readonly insertFailures: Counter<"code">;
  readonly outageSeconds: Counter;
  readonly databaseDown: Gauge;
  readonly batchSeconds: Histogram;
  readonly batchSize: Histogram;
  readonly buffered: Gauge;
  readonly consumerLag: Gauge;
  readonly retentionDeleted: Counter;
  readonly queries: Counter<"endpoint" | "result">;
}

export function createStorageMetrics(registry: Registry): StorageMetrics {
  const registers = [registry];
  return {
    received: new Counter({
      name: "market_scraper_storage_messages_received_total",
      help: "JetStream messages pulled by the ingest (redeliveries included)",
      registers,
    }),
    stored: new Counter({
      name: "market_scraper_storage_events_stored_total",
      help: "Events inserted (the ingest rate is its rate)",
      registers,
    }),
    duplicates: new Counter({
      name: "market_scraper_storage_events_duplicate_total",
      help: "Events received again that were already stored (redeliveries), skipped by the insert",
      registers,
    }),
    deadLetters: new Counter({
      name: "market_scraper_storage_dead_letters_total",
      help: "Messages sent to deadletter.<subject>, by reason (malformed, rejected)",
      labelNames: ["reason"] as const,
      registers,
    }),
    insertFailures: new Counter({
      name: "market_scraper_storage_insert_failures_total",
      help: "Batch inserts that failed and were retried, by store error code",
      labelNames: ["code"] as const,
      registers,
    }),
    outageSeconds: new Counter({
      name: "market_scraper_storage_database_outage_seconds_total",
      help: "Time the database refused writes (an outage: batches held and retried, not dead-lettered)",
      registers,
    }),
    databaseDown: new Gauge({
      name: "market_scraper_storage_database_down",
      help: "1 while the database refuses writes (readiness is off meanwhile), else 0",
      registers,
    }),
    batchSeconds: new Histogram({
      name: "market_scraper_storage_batch_duration_seconds",
      help: "Time to commit one batch (retries included), before its messages are acked",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    batchSize: new Histogram({
      name: "market_scraper_storage_batch_size",
      help: "Messages per committed batch",
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000],
      registers,
    }),
    buffered: new Gauge({
      name: "market_scraper_storage_buffered_messages",
      help: "Messages pulled and not yet committed and acked (bounded)",
      registers,
    }),
    consumerLag: new Gauge({
      name: "market_scraper_storage_consumer_lag",
      help: "Messages on the streams not yet delivered to the storage consumers (num_pending)",
      registers,
    }),
    retentionDeleted: new Counter({
      name: "market_scraper_storage_retention_deleted_total",
      help: "Events removed by retention (rows deleted; dropped partitions are not counted in rows)",
      registers,
    }),
    queries: new Counter({
      name: "market_scraper_storage_queries_total",
      help: "Query requests answered, by endpoint and result (ok or an error code)",
      labelNames: ["endpoint", "result"] as const,
      registers,
    }),
  };
}
