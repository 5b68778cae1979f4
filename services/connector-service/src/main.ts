import { NatsEventBus } from "@market-scraper/bus";
import {
  HealthState,
  connectNats,
  createLogger,
  createMetricsRegistry,
  loadConfig,
  registerBusMetrics,
  registerMicroService,
  runService,
  startHttpServer,
} from "@market-scraper/runtime";
import { connectorEnvOnDisk } from "./config.js";
import { type ConnectorService, createConnectorService } from "./service.js";

const name = "connector-service";
const version = "0.1.0";
const config = loadConfig(connectorEnvOnDisk); // exit 78 with one line per bad variable (or unreadable REPLAY_FILE)
const logger = createLogger({ service: name, level: config.LOG_LEVEL });
const registry = createMetricsRegistry({ service: name });
const health = new HealthState();

await runService({
  name,
  logger,
  health,
  start: async () => {
    const current: { service?: ConnectorService } = {};
    const http = await startHttpServer({
      port: config.HTTP_PORT,
      logger,
      registry,
      health,
      // GET /connectors: each connector's health (healthy/degraded/unhealthy, latency, last message age).
      fallback: (req, res) => {
        const path = (req.url ?? "/").split("?")[0];
        if (path !== "/connectors" || (req.method !== "GET" && req.method !== "HEAD")) {
          res.statusCode = 404;
          res.setHeader("Content-Type", "application/json; charset=utf-8");
          res.end(
            JSON.stringify({ error: { code: "NOT_FOUND", message: `no route ${req.method} ${path}` } }),
          );
          return;
        }
        res.setHeader("Content-Type", "application/json; charset=utf-8");
        res.end(
          req.method === "HEAD" ? undefined : JSON.stringify({ data: current.service?.health() ?? [] }),
        );
      },
    });
    const nc = await connectNats(config, { name, logger, health });
    const bus = new NatsEventBus({
      connection: nc,
      source: name,
      logger: logger.child({ component: "bus" }),
      streams: { replicas: config.NATS_STREAM_REPLICAS, names: config.NATS_STREAMS },
    });
    await bus.ready();
    registerBusMetrics(registry, bus);
    const service = createConnectorService({
      config,
      bus,
      logger,
      registry,
      health,
      onReplayFinished: () => {
        if (config.REPLAY_EXIT_WHEN_DONE) {
          logger.info("replay finished; shutting down");
          process.kill(process.pid, "SIGTERM");
        }
      },
    });
    const micro = await registerMicroService(nc, {
      name,
      version,
      description: "exchange connectors publishing normalized market data; answers connector.health",
      metadata: {
        connectors: config.CONNECTORS.join(","),
        shard: `${config.CONNECTOR_SHARD.index}/${config.CONNECTOR_SHARD.count}`,
      },
    });
    current.service = service;
    // `nats req connector.health ''` answers what /connectors does.
    micro.addGroup("connector").addEndpoint("health", (_err, msg) => {
      msg.respond(JSON.stringify({ data: service.health() }));
    });
    await service.start();
    return {
      async stop() {
        await service.stop(); // connectors stopped, every publish handed to the bus settled
        await micro.stop();
        await bus.close();
        await nc.drain();
        await http.close();
      },
    };
  },
});
