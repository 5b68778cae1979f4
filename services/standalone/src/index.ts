export {
  EVENT_BUS_KINDS,
  SERVICE_ENV_SCHEMAS,
  STANDALONE_DEFAULTS,
  parseStandaloneEnv,
  standaloneOwnEnv,
  standaloneVariables,
  withStandaloneDefaults,
  type EventBusKind,
  type StandaloneConfig,
} from "./config.js";
export {
  SERVICE_NAME,
  createStandalone,
  localStorageClient,
  type Standalone,
  type StandaloneDeps,
} from "./service.js";
export { waitForIdle, type WaitForIdleOptions } from "./wait-for-idle.js";
export {
  DEFAULT_SAMPLE_COINS,
  writeSampleCapture,
  type SampleCaptureOptions,
  type SampleCoin,
} from "./sample-capture.js";
