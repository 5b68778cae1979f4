export { ConfigError, formatConfigIssue, type ConfigErrorCode, type ConfigIssue } from "./config-error.js";
export {
  CONFIG_ERROR_EXIT_CODE,
  DEFAULT_NATS_URL,
  LOG_LEVELS,
  baseServiceEnv,
  booleanFlag,
  commaList,
  durationMs,
  loadConfig,
  logLevel,
  natsEnv,
  parseDurationMs,
  parseEnv,
  port,
  positiveInt,
  secret,
  type BaseServiceEnv,
  type Env,
  type LogLevel,
  type NatsEnv,
} from "./config.js";
export { REDACTED_SECRET, redactSecrets } from "./redact.js";
export { RuntimeError, type RuntimeErrorCode } from "./runtime-error.js";
export { createLogger, type CreateLoggerOptions, type Logger } from "./logger.js";
export {
  BUS_COUNTERS,
  createMetricsRegistry,
  registerBusMetrics,
  type BusCounter,
  type BusMetricsSource,
  type CreateMetricsRegistryOptions,
  type Registry,
} from "./metrics.js";
export { HealthState, type HealthCheck, type HealthSnapshot } from "./health-state.js";
export {
  HEALTH_PATHS,
  healthEndpoints,
  httpError,
  isHealthPath,
  type HealthAnswer,
  type HealthEndpoints,
  type HealthEndpointsOptions,
  type HealthPath,
} from "./health-endpoints.js";
export {
  HTTP_ERROR_STATUS,
  startHttpServer,
  type HttpErrorCode,
  type HttpFallback,
  type RunningHttpServer,
  type StartHttpServerOptions,
} from "./http-server.js";
export {
  STARTED_CHECK,
  runService,
  type RunServiceOptions,
  type ServiceProcess,
  type ShutdownSignal,
  type StoppableService,
} from "./lifecycle.js";
export {
  NATS_HEALTH_CHECK,
  connectNats,
  natsConnectionOptions,
  type ConnectNatsOptions,
  type NatsConfig,
} from "./nats.js";
export {
  registerMicroService,
  type Endpoint,
  type MicroServiceOptions,
  type Service,
  type ServiceGroup,
  type ServiceMsg,
} from "./micro-service.js";
