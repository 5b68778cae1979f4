import { NatsEventBus } from "@market-scraper/bus";
import {
  HealthState,
  createLogger,
  createMetricsRegistry,
  loadConfig,
  natsConnectionOptions,
  registerBusMetrics,
  registerMicroService,
  runService,
} from "@market-scraper/runtime";
import { gatewayEnv } from "./config.js";
import { GATEWAY_VERSION, createGatewayService } from "./service.js";
import { NatsStorageClient } from "./storage/nats-storage-client.js";

const name = "gateway-service";
const config = loadConfig(gatewayEnv); // exit 78 with one line per bad variable
const logger = createLogger({ service: name, level: config.LOG_LEVEL });
const registry = createMetricsRegistry({ service: name });
const health = new HealthState();

await runService({
  name,
  logger,
  health,
  start: async () => {
    // The bus connects in the background (retrying until NATS answers) while the HTTP server already
    // answers /healthz; /readyz and /v1 say 503 until the bus is connected and subscribed.
    const bus = new NatsEventBus({
      servers: config.NATS_URL,
      connectionOptions: natsConnectionOptions(config, { name }),
      // The gateway only reads processed.> and system.>: it creates no streams and publishes nothing.
      ensureStreams: false,
      publishMode: "core",
      source: name,
      logger: logger.child({ component: "bus" }),
    });
    registerBusMetrics(registry, bus);
    const storage = new NatsStorageClient({
      connection: () => bus.connection,
      timeoutMs: config.GATEWAY_STORAGE_TIMEOUT,
    });
    const service = createGatewayService({ bus, storage, logger, config, registry, health });
    await service.start();
    const micro = await registerMicroService(bus.connection, {
      name,
      version: GATEWAY_VERSION,
      description: "REST, WebSocket and SSE access to market-scraper events",
      metadata: { http_port: String(service.port) },
    });
    return {
      async stop() {
        await service.stop(); // readiness off, unsubscribe, close streams with a reason, close HTTP
        await micro.stop();
        await bus.close(); // drains the NATS connection
      },
    };
  },
});
