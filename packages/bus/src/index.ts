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
  STREAMS,
  ensureStreams,
  streamConfig,
  type StreamName,
  type StreamSettings,
  whenStreamExists,
} from "./jetstream-streams.js";
export { RedisEventBus, type RedisEventBusOptions } from "./redis-event-bus.js";
