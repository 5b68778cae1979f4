import { parseArgs } from "node:util";
import { type EventBus, MemoryEventBus, NatsEventBus } from "@market-scraper/bus";
import {
  CONFIG_ERROR_EXIT_CODE,
  ConfigError,
  HealthState,
  type Service,
  connectNats,
  createLogger,
  createMetricsRegistry,
  formatConfigIssue,
  registerMicroService,
  runService,
} from "@market-scraper/runtime";
import { assertReplayFileReadable } from "@market-scraper/connector-service";
import { createStore } from "@market-scraper/storage-service";
import type { NatsConnection } from "@nats-io/transport-node";
import { type StandaloneConfig, parseStandaloneEnv } from "./config.js";
import { SERVICE_NAME, createStandalone } from "./service.js";

const USAGE = `usage: node services/standalone/dist/main.js [--replay <capture.jsonl>]

Runs the connector, processor, storage and gateway services in one process.
  --replay <file>   replay a raw capture instead of connecting (same as REPLAY_FILE=<file>)
Configuration comes from environment variables: see the README (EVENT_BUS, DATABASE_URL, HTTP_PORT,
CONNECTORS, HYPERLIQUID_SYMBOLS, REPLAY_FILE, REPLAY_SPEED, and every service's own).
`;

function readArgs(): { replay: string | undefined } {
  try {
    const { values } = parseArgs({
      options: { replay: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help === true) {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    return { replay: values.replay };
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return process.exit(64); // EX_USAGE
  }
}

function loadStandaloneConfig(env: NodeJS.ProcessEnv): StandaloneConfig {
  try {
    const config = parseStandaloneEnv(env);
    assertReplayFileReadable(config.connector); // a missing or unreadable capture: exit 78 too
    return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(error.issues.map((issue) => `config error: ${formatConfigIssue(issue)}\n`).join(""));
    return process.exit(CONFIG_ERROR_EXIT_CODE);
  }
}

const { replay } = readArgs();
const config = loadStandaloneConfig(
  replay === undefined ? process.env : { ...process.env, REPLAY_FILE: replay },
);
const logger = createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL });
const registry = createMetricsRegistry({ service: SERVICE_NAME });
const health = new HealthState();

await runService({
  name: SERVICE_NAME,
  logger,
  health,
  start: async () => {
    const storageConfig = config.storage;
    const store = createStore(storageConfig.DATABASE_URL, {
      poolSize: storageConfig.STORAGE_PG_POOL_SIZE,
      partitionsAhead: storageConfig.STORAGE_PARTITIONS_AHEAD,
      retentionBatch: storageConfig.STORAGE_RETENTION_BATCH,
    });
    let bus: EventBus;
    let nc: NatsConnection | undefined;
    let micro: Service | undefined;
    if (config.EVENT_BUS === "nats") {
      nc = await connectNats(config.gateway, { name: SERVICE_NAME, logger, health });
      bus = await NatsEventBus.connect({
        connection: nc,
        source: SERVICE_NAME,
        logger: logger.child({ component: "bus" }),
        streams: { replicas: config.gateway.NATS_STREAM_REPLICAS },
      });
      micro = await registerMicroService(nc, {
        name: SERVICE_NAME,
        version: "0.1.0",
        description: "connector, processor, storage and gateway in one process; answers storage.*",
        metadata: { store: store.kind, connectors: config.connector.CONNECTORS.join(",") },
      });
    } else {
      bus = new MemoryEventBus({ source: SERVICE_NAME, logger: logger.child({ component: "bus" }) });
    }
    const app = createStandalone({
      config,
      bus,
      store,
      logger,
      registry,
      health,
      ...(nc === undefined ? {} : { nc }),
      ...(micro === undefined ? {} : { micro }),
      onReplayFinished: () => {
        logger.info({ file: config.connector.REPLAY_FILE }, "replay finished");
        if (config.connector.REPLAY_EXIT_WHEN_DONE) process.kill(process.pid, "SIGTERM");
      },
    });
    await app.start();
    return {
      async stop() {
        await app.stop(); // gateway off, connectors stopped, in-flight events worked through, storage flushed
        await micro?.stop();
        await bus.close();
        await nc?.drain();
        await store.close();
      },
    };
  },
});
