import type { EventBus } from "@market-scraper/bus";
import { type ConnectorService, createConnectorService } from "@market-scraper/connector-service";
import {
  type GatewayService,
  LocalStorageClient,
  type StorageClient,
  createGatewayService,
} from "@market-scraper/gateway-service";
import {
  type ProcessorService,
  createProcessorService,
  registerProcessorMetrics,
} from "@market-scraper/processor-service";
import {
  type HealthState,
  type Logger,
  type Registry,
  type Service,
  registerBusMetrics,
} from "@market-scraper/runtime";
import { type StorageService, type Store, createStorageService } from "@market-scraper/storage-service";
import type { NatsConnection } from "@nats-io/transport-node";
import type { StandaloneConfig } from "./config.js";
import { waitForIdle } from "./wait-for-idle.js";

export const SERVICE_NAME = "standalone";

export interface StandaloneDeps {
  config: StandaloneConfig;
  /** `MemoryEventBus` (default mode) or a `NatsEventBus` on `nc`. */
  bus: EventBus;
  /**
   * The NATS connection under a `NatsEventBus`: with it the processor consumes its partition from
   * JetStream with checkpoints and storage ingests with JetStream durable consumers, as the distributed
   * services do. Without it, both take plain subscriptions on `bus`.
   */
  nc?: NatsConnection;
  /** Where storage writes (`createStore(config.storage.DATABASE_URL)`); closed by the caller. */
  store: Store;
  logger: Logger;
  registry: Registry;
  health: HealthState;
  /** With NATS: the micro service that gets storage's `storage.*` query endpoints. */
  micro?: Service;
  /** Interface the gateway listens on; default `0.0.0.0`. */
  host?: string;
  /** Called once a replay connector has played its whole file. */
  onReplayFinished?: () => void;
  /** The connector's HTTP client (tests). */
  fetch?: typeof fetch;
}

export interface Standalone {
  readonly connector: ConnectorService;
  readonly processor: ProcessorService;
  readonly storage: StorageService;
  readonly gateway: GatewayService;
  /** Storage, processor, gateway (HTTP and live streams), then the connectors. */
  start(): Promise<void>;
  /**
   * Gateway off (readiness, streams), connectors stopped, what they published worked through, the
   * processor stopped (on the memory bus its open candles are flushed as partial candles), then storage
   * writes what it holds. The caller then closes the bus, NATS and the store.
   */
  stop(): Promise<void>;
}

/**
 * The gateway's client for `storage` in this process. Failures go through `StorageQueries#handle`, the
 * same mapping the `storage.*` NATS endpoints answer with (a bad cursor is `BAD_REQUEST`, a database
 * outage `UNAVAILABLE`), so both modes give the same answer to the same request.
 */
export function localStorageClient(storage: Pick<StorageService, "queries">): StorageClient {
  return new LocalStorageClient(async (name, request) => {
    const result = await storage.queries.handle(name, request);
    if (result.ok) return result.body;
    throw result.error;
  });
}

/**
 * The four services in one process, each built by its own factory from its own parsed config: the
 * connector publishes on `bus`, the processor and storage consume from it, and the gateway serves the
 * live events and answers history from the same store in process (`LocalStorageClient`).
 */
export function createStandalone(deps: StandaloneDeps): Standalone {
  const { config, bus, logger, registry, health } = deps;
  const log = logger.child({ component: "standalone" });
  registerBusMetrics(registry, bus);

  const storage =
    deps.nc === undefined
      ? createStorageService({
          ingest: { kind: "bus", bus },
          store: deps.store,
          logger,
          config: config.storage,
          registry,
          health,
        })
      : createStorageService({
          nc: deps.nc,
          store: deps.store,
          logger,
          config: config.storage,
          registry,
          health,
          ...(deps.micro === undefined ? {} : { micro: deps.micro }),
        });
  const processor = createProcessorService({
    bus,
    logger,
    config: config.processor,
    ...(deps.nc === undefined ? {} : { nc: deps.nc }),
  });
  registerProcessorMetrics(registry, processor);
  const gateway = createGatewayService({
    bus,
    storage: localStorageClient(storage),
    logger,
    config: config.gateway,
    registry,
    health,
    ...(deps.host === undefined ? {} : { host: deps.host }),
  });
  const connector = createConnectorService({
    config: config.connector,
    bus,
    logger,
    registry,
    health,
    ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
    ...(deps.onReplayFinished === undefined ? {} : { onReplayFinished: deps.onReplayFinished }),
  });

  let started = false;
  return {
    connector,
    processor,
    storage,
    gateway,
    async start() {
      await storage.start();
      await processor.start();
      await gateway.start();
      await connector.start();
      started = true;
      log.info(
        {
          bus: config.EVENT_BUS,
          store: deps.store.kind,
          port: gateway.port,
          connectors: config.connector.CONNECTORS,
          processor_mode: processor.mode,
        },
        "standalone started",
      );
    },
    async stop() {
      if (!started) return;
      started = false;
      await gateway.stop();
      await connector.stop();
      await waitForIdle(bus);
      await processor.stop();
      await waitForIdle(bus);
      await storage.stop();
      log.info("standalone stopped");
    },
  };
}
