export type {
  BusMetrics,
  DeadLetter,
  DeadLetterReason,
  EventBus,
  EventHandler,
  SubscribeOptions,
  Subscription,
} from "./event-bus.js";
export { backoffDelay, type BackoffOptions } from "./backoff.js";
export { BusError, type BusErrorCode } from "./errors.js";
export type { BusLogger } from "./logger.js";
export type { OverflowPolicy } from "./bounded-queue.js";
export type { RetryOptions } from "./retry-policy.js";
export { MemoryEventBus, type MemoryEventBusOptions } from "./memory-event-bus.js";
export { NatsEventBus, type NatsEventBusOptions } from "./nats-event-bus.js";
export {
  DurableConsumer,
  type DurableConsumerOptions,
  type FilterMode,
  parseServerVersion,
  supportsMultiFilter,
} from "./durable-consumer.js";
export {
  DeadLetterHub,
  type DeadLetterSend,
  deadLetterErrorEvent,
  publishDeadLetter,
} from "./dead-letters.js";
export { createBusMetrics } from "./bus-metrics.js";
export { NatsLink, type NatsLinkHandlers } from "./nats-link.js";
export {
  STAGE_STREAMS,
  STREAMS,
  ensureStreams,
  streamConfig,
  type StreamName,
  type StreamSettings,
  whenStreamExists,
} from "./jetstream-streams.js";
export { RedisEventBus, type RedisEventBusOptions } from "./redis-event-bus.js";
