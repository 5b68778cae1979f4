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
import { processorEnv } from "./config.js";
import { partitionName } from "./partition.js";
import { registerProcessorMetrics } from "./processor-metrics.js";
import { SERVICE_NAME, createProcessorService } from "./service.js";

const VERSION = "0.1.0";
const config = loadConfig(processorEnv);
const logger = createLogger({ service: SERVICE_NAME, level: config.LOG_LEVEL });
const registry = createMetricsRegistry({ service: SERVICE_NAME });
const health = new HealthState();

await runService({
  name: SERVICE_NAME,
  logger,
  health,
  start: async () => {
    const http = await startHttpServer({ port: config.HTTP_PORT, logger, registry, health });
    const nc = await connectNats(config, { name: SERVICE_NAME, logger, health });
    const bus = await NatsEventBus.connect({
      connection: nc,
      source: SERVICE_NAME,
      logger: logger.child({ component: "bus" }),
      streams: { replicas: config.NATS_STREAM_REPLICAS, names: config.NATS_STREAMS },
    });
    registerBusMetrics(registry, bus);
    const service = createProcessorService({ bus, logger, config, nc, health });
    registerProcessorMetrics(registry, service);
    const micro = await registerMicroService(nc, {
      name: SERVICE_NAME,
      version: VERSION,
      description:
        "validates, de-duplicates and aggregates market data (trades → OHLCV, top of book); answers processor.stats",
      metadata: {
        processors: config.PROCESSORS.join(","),
        intervals: config.OHLCV_INTERVALS.join(","),
        partition: partitionName(config.PROCESSOR_PARTITION),
        mode: service.mode,
      },
    });
    // `nats req processor.stats ''` (or `nats micro stats`) shows the processor counters.
    micro.addGroup("processor").addEndpoint("stats", (err, msg) => {
      if (err) return;
      msg.respond(
        JSON.stringify({
          partition: partitionName(config.PROCESSOR_PARTITION),
          processors: Object.fromEntries(service.processorStats()),
          late_trades: Object.fromEntries(service.lateTrades()),
          consumer: service.consumerStats(),
        }),
      );
    });
    await service.start();
    return {
      async stop() {
        await service.stop(); // stop intake, finish in-flight work, checkpoint open candles
        await micro.stop();
        await bus.close();
        await nc.drain();
        await http.close();
      },
    };
  },
});
