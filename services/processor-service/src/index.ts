export { Processor, deriveOutput, errorEventFor, DEFAULT_ERROR_SOURCE } from "./processor.js";
export type { ProcessResult, ProcessorLogger, ProcessorOptions, ProcessorStats } from "./processor.js";
export { Pipeline } from "./pipeline.js";
export { ProcessorError, type ProcessorErrorCode } from "./processor-error.js";
export {
  ValidateProcessor,
  ValidationRule,
  VALIDATION_FAILED,
  type ValidateOptions,
  type ValidationFailure,
} from "./processors/validate-processor.js";
export { DedupProcessor, type DedupOptions, type DedupState } from "./processors/dedup-processor.js";
export {
  OhlcvProcessor,
  DEFAULT_OHLCV_INTERVALS,
  LATE_TRADE,
  type OhlcvOptions,
  type OhlcvState,
} from "./processors/ohlcv-processor.js";
export { TopOfBookProcessor, topOfBook, type TopOfBook } from "./processors/top-of-book-processor.js";
export {
  PROCESSOR_NAMES,
  createBuiltInProcessors,
  isProcessorName,
  type BuiltInOptions,
  type ProcessorName,
} from "./processors/registry.js";
export { parseInterval, IntervalError, type IntervalSpec } from "./interval.js";
export {
  parsePartition,
  partitionOf,
  partitionKeyHash,
  ownsKey,
  partitionName,
  PartitionError,
  SINGLE_PARTITION,
  type Partition,
} from "./partition.js";
export { deterministicId } from "./deterministic-id.js";
export * as decimal from "./decimal.js";
export {
  KvCheckpointStore,
  MemoryCheckpointStore,
  DEFAULT_CHECKPOINT_BUCKET,
  type CheckpointStore,
  type KeyCheckpoint,
} from "./checkpoint-store.js";
export {
  PartitionedConsumer,
  MARKET_STREAM,
  type ConsumerStats,
  type PartitionedConsumerOptions,
} from "./partitioned-consumer.js";
export { processorEnv, DEFAULT_HTTP_PORT, type ProcessorConfig } from "./config.js";
export { registerProcessorMetrics, type ProcessorMetricsSource } from "./processor-metrics.js";
export {
  createProcessorService,
  CONSUMER_HEALTH_CHECK,
  SERVICE_NAME,
  type ProcessorService,
  type ProcessorServiceDeps,
} from "./service.js";
