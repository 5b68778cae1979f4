import {
  HealthState,
  connectNats,
  createLogger,
  createMetricsRegistry,
  loadConfig,
  registerMicroService,
  runService,
  startHttpServer,
} from "@market-scraper/runtime";
import { storageEnv } from "./config.js";
import { SERVICE_NAME, createStorageService } from "./service.js";
import { createStore } from "./store/create-store.js";

const config = loadConfig(storageEnv); // exit 78 with one line per bad variable
const logger = createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL });
const registry = createMetricsRegistry({ service: SERVICE_NAME });
const health = new HealthState();

await runService({
  name: SERVICE_NAME,
  logger,
  health,
  start: async () => {
    // HTTP first: /healthz answers while we wait for NATS and the database.
    const http = await startHttpServer({ port: config.HTTP_PORT, logger, registry, health });
    const store = createStore(config.DATABASE_URL, {
      poolSize: config.STORAGE_PG_POOL_SIZE,
      partitionsAhead: config.STORAGE_PARTITIONS_AHEAD,
      retentionBatch: config.STORAGE_RETENTION_BATCH,
    });
    const nc = await connectNats(config, { name: SERVICE_NAME, logger, health });
    const micro = await registerMicroService(nc, {
      name: SERVICE_NAME,
      version: "0.1.0",
      description: "persists every event once; answers storage.events|latest|candles|markets|stats",
      metadata: { store: store.kind },
    });
    const service = createStorageService({ nc, store, logger, config, registry, micro, health });
    await service.start();
    return {
      async stop() {
        await service.stop(); // stop intake, write and ack the batch in hand
        await micro.stop();
        await nc.drain(); // flushes the acks
        await store.close();
        await http.close();
      },
    };
  },
});
