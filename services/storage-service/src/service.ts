import { type EventBus, backoffDelay } from "@market-scraper/bus";
import type { HealthState, Logger, Registry, Service } from "@market-scraper/runtime";
import type { NatsConnection } from "@nats-io/transport-node";
import type { StorageConfig } from "./config.js";
import { BusIngest } from "./ingest/bus-ingest.js";
import { DATABASE_HEALTH_CHECK, IngestWorker } from "./ingest/ingest-worker.js";
import { type StorageMetrics, createStorageMetrics } from "./metrics.js";
import { addQueryEndpoints } from "./query/query-endpoints.js";
import { StorageQueries } from "./query/storage-queries.js";
import { effectiveRetention } from "./retention.js";
import type { Store } from "./store/store.js";
import { StoreError } from "./store/store-error.js";

export const SERVICE_NAME = "storage-service";

export type StorageServiceConfig = Pick<
  StorageConfig,
  | "STORAGE_SUBJECTS"
  | "STORAGE_DURABLE"
  | "STORAGE_BATCH_SIZE"
  | "STORAGE_FLUSH_MS"
  | "STORAGE_INSERT_CONCURRENCY"
  | "STORAGE_ACK_WAIT"
  | "STORAGE_MAX_ACK_PENDING"
  | "STORAGE_MAX_BACKOFF"
  | "STORAGE_RETENTION"
  | "STORAGE_RETENTION_INTERVAL"
> &
  Partial<Pick<StorageConfig, "NATS_STREAM_REPLICAS" | "NATS_STREAMS">>;

/**
 * Where events come from. `jetstream` (default): durable pull consumers on `nc`, acked after each batch
 * commits (exactly once across crashes). `bus`: one plain subscription on any `EventBus` (e.g.
 * `MemoryEventBus` in `standalone`), batched the same way; no acks, so a crash loses the rows in hand.
 */
export type StorageIngest = { kind: "jetstream" } | { kind: "bus"; bus: EventBus };

interface StorageServiceCommonDeps {
  store: Store;
  logger: Logger;
  config: StorageServiceConfig;
  registry: Registry;
  /** The micro service to add the `storage.*` endpoints to; without it no queries are served. */
  micro?: Service;
  health?: HealthState;
  /** Epoch milliseconds; injected so retention is testable. Default `Date.now`. */
  clock?: () => number;
  /** Randomness of the backoff jitter (waiting for the database at start); default `Math.random`. */
  random?: () => number;
}

/** Waiting for the database at start: 500 ms doubling up to `STORAGE_MAX_BACKOFF` (`backoffDelay`). */
export const START_RETRY_INITIAL_MS = 500;

export type StorageServiceDeps = StorageServiceCommonDeps &
  (
    | { nc: NatsConnection; ingest?: { kind: "jetstream" } }
    | { nc?: NatsConnection; ingest: { kind: "bus"; bus: EventBus } }
  );

interface Ingest {
  start(): Promise<void>;
  stop(): Promise<void>;
  consumerLag(): Promise<number | null>;
  /** For the start log: the consumers or subjects. */
  describe(): string[];
}

function createIngest(deps: StorageServiceDeps, metrics: StorageMetrics): Ingest {
  const { config } = deps;
  const health = deps.health === undefined ? {} : { health: deps.health };
  if (deps.ingest?.kind === "bus") {
    const ingest = new BusIngest(
      { bus: deps.ingest.bus, store: deps.store, logger: deps.logger, metrics, ...health },
      {
        subjects: config.STORAGE_SUBJECTS,
        batchSize: config.STORAGE_BATCH_SIZE,
        flushMs: config.STORAGE_FLUSH_MS,
        maxBackoffMs: config.STORAGE_MAX_BACKOFF,
      },
    );
    return {
      start: () => ingest.start(),
      stop: () => ingest.stop(),
      consumerLag: async () => null,
      describe: () => ingest.subjects.map((s) => `bus/${s}`),
    };
  }
  if (deps.nc === undefined) throw new TypeError("the JetStream ingest needs a NATS connection (nc)");
  const worker = new IngestWorker(
    { nc: deps.nc, store: deps.store, logger: deps.logger, metrics, ...health },
    {
      subjects: config.STORAGE_SUBJECTS,
      durable: config.STORAGE_DURABLE,
      streamReplicas: config.NATS_STREAM_REPLICAS ?? 1,
      ...(config.NATS_STREAMS === undefined ? {} : { streamNames: config.NATS_STREAMS }),
      batchSize: config.STORAGE_BATCH_SIZE,
      flushMs: config.STORAGE_FLUSH_MS,
      insertConcurrency: config.STORAGE_INSERT_CONCURRENCY,
      ackWaitMs: config.STORAGE_ACK_WAIT,
      maxAckPending: config.STORAGE_MAX_ACK_PENDING,
      maxBackoffMs: config.STORAGE_MAX_BACKOFF,
      source: SERVICE_NAME,
    },
  );
  return {
    start: () => worker.start(),
    stop: () => worker.stop(),
    consumerLag: () => worker.consumerLag(),
    describe: () => worker.consumers.map((c) => `${c.stream}/${c.name}`),
  };
}

export interface StorageService {
  start(): Promise<void>;
  /** Stops intake, writes and acks the messages in hand (the caller then stops the micro service and drains NATS). */
  stop(): Promise<void>;
  /** One retention and partition-maintenance pass (also run every `STORAGE_RETENTION_INTERVAL`). */
  housekeeping(): Promise<void>;
  readonly queries: StorageQueries;
  readonly metrics: StorageMetrics;
}

/**
 * The storage service (ARCHITECTURE §7): migrates the store, ingests `market.>`, `processed.>` and
 * `system.>` from JetStream exactly once (or from any `EventBus`: `ingest: { kind: "bus", bus }`),
 * answers `storage.*` queries, applies retention.
 */
export function createStorageService(deps: StorageServiceDeps): StorageService {
  const { store, config } = deps;
  const log = deps.logger.child({ component: "storage" });
  const clock = deps.clock ?? Date.now;
  const metrics = createStorageMetrics(deps.registry);
  const ingest = createIngest(deps, metrics);
  const queries = new StorageQueries(store, { consumerLag: () => ingest.consumerLag() });
  const retention = effectiveRetention(config.STORAGE_RETENTION);
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopping = false;
  let wake: (() => void) | undefined;

  const housekeeping = async (): Promise<void> => {
    const now = clock();
    await store.maintain(now);
    if (retention.size === 0) return;
    const result = await store.applyRetention(retention, now);
    metrics.retentionDeleted.inc(result.deleted);
    if (result.deleted > 0 || result.dropped_partitions > 0) log.info(result, "retention applied");
  };

  const scheduled = () => {
    running ??= housekeeping()
      .catch((err: unknown) => log.warn({ err }, "housekeeping failed; next run will retry"))
      .finally(() => {
        running = undefined;
      });
  };

  return {
    queries,
    metrics,
    housekeeping,
    async start() {
      // The database may come up after us: wait for it (not ready meanwhile) rather than crash-loop.
      // A stop meanwhile ends the wait: start returns and nothing is left polling.
      for (let attempt = 1; ; attempt++) {
        try {
          await store.migrate();
          break;
        } catch (err) {
          if (!(err instanceof StoreError) || err.code !== "UNAVAILABLE") throw err;
          const delay = backoffDelay(
            attempt,
            { initialMs: START_RETRY_INITIAL_MS, maxMs: config.STORAGE_MAX_BACKOFF },
            deps.random,
          );
          deps.health?.setCheck(DATABASE_HEALTH_CHECK, false, err.message);
          log.warn({ err, attempt, retryInMs: delay }, "database unavailable at start; retrying");
          await new Promise<void>((resolve) => {
            const wait = setTimeout(resolve, delay);
            wake = () => {
              clearTimeout(wait);
              resolve();
            };
          });
          wake = undefined;
          if (stopping) return;
        }
      }
      if (stopping) return;
      await store.maintain(clock());
      if (deps.micro !== undefined) addQueryEndpoints(deps.micro, queries, { logger: deps.logger, metrics });
      await ingest.start();
      timer = setInterval(scheduled, config.STORAGE_RETENTION_INTERVAL);
      timer.unref();
      scheduled();
      log.info({ store: store.kind, consumers: ingest.describe() }, "storage service started");
    },
    async stop() {
      stopping = true;
      wake?.();
      if (timer !== undefined) clearInterval(timer);
      await ingest.stop();
      await running;
    },
  };
}
