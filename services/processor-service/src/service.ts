import type { EventBus, Subscription } from "@market-scraper/bus";
import {
  type Clock,
  EventType,
  type StandardEvent,
  StandardEvent as Events,
  markProcessed,
  processedAgeMs,
} from "@market-scraper/events";
import type { HealthState, Logger } from "@market-scraper/runtime";
import type { NatsConnection } from "@nats-io/transport-node";
import { type CheckpointStore, type CorruptCheckpoint, KvCheckpointStore } from "./checkpoint-store.js";
import type { ProcessorConfig } from "./config.js";
import { ownsKey, partitionName } from "./partition.js";
import { type ConsumerStats, PartitionedConsumer } from "./partitioned-consumer.js";
import { Pipeline } from "./pipeline.js";
import type { Processor, ProcessorStats } from "./processor.js";
import { OhlcvProcessor } from "./processors/ohlcv-processor.js";
import { createBuiltInProcessors } from "./processors/registry.js";

export const SERVICE_NAME = "processor-service";
/** The `/readyz` check of the partition consumer: not ok while it cannot make progress, with why. */
export const CONSUMER_HEALTH_CHECK = "consumer";

export interface ProcessorServiceDeps {
  bus: EventBus;
  logger: Logger;
  config: ProcessorConfig;
  clock?: Clock;
  /**
   * The NATS connection under the bus. With it, a stateful pipeline (ohlcv, dedup) consumes its
   * partition from JetStream with checkpoints; without it (MemoryEventBus, standalone) the pipeline
   * takes a durable bus subscription and open candles are flushed as partial candles at stop.
   */
  nc?: NatsConnection;
  /**
   * Checkpoint store; default a JetStream KV bucket (`CHECKPOINT_BUCKET`) on `nc`, validated against the
   * pipeline's `stateSchema` with corrupt checkpoints reported (see `reportCorruptCheckpoint`).
   */
  checkpointStore?: CheckpointStore;
  /** Processors run after the built-in ones named by `PROCESSORS`. */
  extraProcessors?: readonly Processor[];
  /** Gets the `consumer` check (partitioned JetStream mode): see `CONSUMER_HEALTH_CHECK`. */
  health?: HealthState;
}

export interface ProcessorService {
  readonly pipeline: Pipeline;
  start(): Promise<void>;
  /** Stops intake, finishes in-flight work, then checkpoints (NATS) or flushes (memory) open candles. */
  stop(): Promise<void>;
  processorStats(): ReadonlyMap<string, Readonly<ProcessorStats>>;
  lateTrades(): ReadonlyMap<string, number>;
  consumerStats(): Readonly<ConsumerStats> | null;
  /** Checkpoints found corrupt (and started clean) since start, by kind (`key`, `position`). */
  corruptCheckpoints(): ReadonlyMap<CorruptCheckpoint["kind"], number>;
  /**
   * Reports a checkpoint that cannot be restored: an error log line, the count behind
   * `market_scraper_processor_corrupt_checkpoints_total`, and a `CORRUPT_CHECKPOINT` error event on
   * `system.error.processor-service`. The default KV store calls it; give it to an injected store.
   */
  reportCorruptCheckpoint(corrupt: CorruptCheckpoint): Promise<void>;
  /** How events are consumed: `partitioned-jetstream` (stateful on NATS) or `bus` (shared durable). */
  readonly mode: "partitioned-jetstream" | "bus";
  /**
   * Calls `observer` with every processed market event the service publishes and its age in ms
   * (exchange time → `processed_at`, see `processedAgeMs`): the latency histogram's feed.
   */
  onProcessedAge(observer: ProcessedAgeObserver): void;
}

export type ProcessedAgeObserver = (event: StandardEvent, ageMs: number) => void;

/**
 * The processor service: the pipeline `PROCESSORS` (validate → dedup → ohlcv by default, chained
 * in-process) fed from `market.…` and publishing to `processed.…` and `system.error.…`.
 *
 * - Stateful pipelines (dedup, ohlcv) on NATS: one `PartitionedConsumer` for `PROCESSOR_PARTITION=i/n`,
 *   crash-safe through checkpoints.
 * - Stateless pipelines (validate, top-of-book): every replica joins one durable bus subscription named
 *   `PROCESSOR_GROUP`, so the replicas share the load.
 */
export function createProcessorService(deps: ProcessorServiceDeps): ProcessorService {
  const { bus, config } = deps;
  const logger = deps.logger.child({ component: "processor" });
  const common = {
    source: SERVICE_NAME,
    logger,
    ...(deps.clock === undefined ? {} : { clock: deps.clock }),
  };
  const stages = [
    ...createBuiltInProcessors(config.PROCESSORS, bus, {
      ...common,
      ohlcvIntervals: config.OHLCV_INTERVALS,
      ohlcvLatenessMs: config.OHLCV_LATENESS_MS,
      ohlcvPartial: config.OHLCV_PARTIAL,
      dedupWindow: config.DEDUP_WINDOW,
      maxFutureMs: config.VALIDATE_MAX_FUTURE_MS,
    }),
    ...(deps.extraProcessors ?? []),
  ];
  const ageObservers: ProcessedAgeObserver[] = [];
  const observeAge = (event: StandardEvent): void => {
    if (ageObservers.length === 0) return;
    const age = processedAgeMs(event);
    if (age !== undefined) for (const observer of ageObservers) observer(event, age);
  };
  const pipeline = new Pipeline(bus, stages, { ...common, onOutput: observeAge });
  // Computed candles go to processed.ohlcv.<source>.<symbol>; exchange candles passed through would
  // land on the same subjects with other values, so with `ohlcv` on, market.ohlcv is not consumed.
  const consumedTypes = stages.some((s) => s instanceof OhlcvProcessor)
    ? pipeline.eventTypes.filter((t) => t !== EventType.OHLCV)
    : pipeline.eventTypes;
  const partition = config.PROCESSOR_PARTITION;
  const mode = pipeline.stateful && deps.nc !== undefined ? "partitioned-jetstream" : "bus";
  let consumer: PartitionedConsumer | null = null;
  let subscription: Subscription | null = null;
  const corrupt = new Map<CorruptCheckpoint["kind"], number>();

  const reportCorruptCheckpoint = async (c: CorruptCheckpoint): Promise<void> => {
    corrupt.set(c.kind, (corrupt.get(c.kind) ?? 0) + 1);
    const where = {
      kv_key: c.key,
      ...(c.source === undefined ? {} : { source: c.source }),
      ...(c.symbol === undefined ? {} : { symbol: c.symbol }),
      ...(c.partition === undefined ? {} : { partition: c.partition }),
    };
    const what = c.kind === "key" ? "the symbol's state starts empty" : "the partition starts over";
    logger.error({ err: c.error, ...where }, `corrupt checkpoint: ${what}`);
    await bus.publish(
      Events.create(
        {
          event_type: EventType.ERROR,
          source: SERVICE_NAME,
          payload: {
            error_code: c.error.code,
            message: `${c.error.message}; ${what}`,
            details: { kind: c.kind, ...where, processors: stages.map((s) => s.name) },
          },
        },
        deps.clock,
      ),
    );
  };

  return {
    pipeline,
    mode,
    reportCorruptCheckpoint,
    corruptCheckpoints: () => new Map(corrupt),
    async start() {
      logger.info(
        {
          processors: stages.map((s) => s.name),
          partition: partitionName(partition),
          mode,
          intervals: config.OHLCV_INTERVALS,
          lateness_ms: config.OHLCV_LATENESS_MS,
        },
        "processor service starting",
      );
      if (mode === "partitioned-jetstream") {
        const nc = deps.nc!;
        const store =
          deps.checkpointStore ??
          (await KvCheckpointStore.open(nc, {
            group: config.PROCESSOR_GROUP,
            bucket: config.CHECKPOINT_BUCKET,
            replicas: config.CHECKPOINT_REPLICAS,
            stateSchema: pipeline.stateSchema,
            onCorrupt: reportCorruptCheckpoint,
          }));
        consumer = new PartitionedConsumer({
          nc,
          bus,
          processor: pipeline,
          eventTypes: consumedTypes,
          store,
          partition,
          logger,
          start: config.PROCESSOR_START,
          checkpointIntervalMs: config.CHECKPOINT_INTERVAL_MS,
          checkpointEvery: config.CHECKPOINT_EVERY,
          errorSource: SERVICE_NAME,
          onHealth: (ok, detail) => deps.health?.setCheck(CONSUMER_HEALTH_CHECK, ok, detail),
        });
        await consumer.start();
        return;
      }
      const durable =
        pipeline.stateful && partition.count > 1
          ? `${config.PROCESSOR_GROUP}-${partitionName(partition)}`
          : config.PROCESSOR_GROUP;
      subscription = await bus.subscribe(
        { stage: "market", event_types: consumedTypes },
        async (event) => {
          const symbol = (event.payload as { symbol?: unknown }).symbol;
          if (pipeline.stateful && typeof symbol === "string" && !ownsKey(partition, event.source, symbol))
            return;
          for (const out of await pipeline.handle(event)) await bus.publish(out);
        },
        { durable },
      );
    },
    async stop() {
      if (consumer) {
        await consumer.stop();
        consumer = null;
      }
      if (subscription) {
        await subscription.unsubscribe();
        subscription = null;
        // Nothing to resume from in memory: hand the open buckets on as partial candles.
        const now = (deps.clock ?? Date).now();
        for (const stage of stages) {
          if (!(stage instanceof OhlcvProcessor)) continue;
          for (const candle of stage.drainOpen()) {
            const processed = markProcessed(candle, now);
            observeAge(processed);
            await bus.publish(processed);
          }
        }
      }
      await bus.flush();
    },
    onProcessedAge(observer) {
      ageObservers.push(observer);
    },
    processorStats() {
      return new Map([pipeline, ...stages].map((p) => [p.name, p.stats()]));
    },
    lateTrades() {
      const total = new Map<string, number>();
      for (const stage of stages) {
        if (!(stage instanceof OhlcvProcessor)) continue;
        for (const [interval, n] of stage.lateTrades()) total.set(interval, (total.get(interval) ?? 0) + n);
      }
      return total;
    },
    consumerStats() {
      return consumer?.stats() ?? null;
    },
  };
}
