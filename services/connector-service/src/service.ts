import { join } from "node:path";
import type { EventBus } from "@market-scraper/bus";
import { type StandardEvent, isMarketDataType } from "@market-scraper/events";
import type { HealthState, Logger, Registry } from "@market-scraper/runtime";
import { Counter } from "prom-client";
import { type ConnectorConfig, shardSymbols } from "./config.js";
import {
  type ConnectorMetrics,
  createPromConnectorMetrics,
  noopConnectorMetrics,
} from "./framework/connector-metrics.js";
import type { Connector, ConnectorHealth, EventSink } from "./framework/connector.js";
import { RawCaptureWriter } from "./framework/raw-capture.js";
import type { Scheduler } from "./framework/scheduler.js";
import { HyperliquidConnector } from "./hyperliquid/hyperliquid-connector.js";
import { createHyperliquidReplay } from "./hyperliquid/hyperliquid-replay.js";
import { BinanceConnector } from "./binance/binance-connector.js";
import { createBinanceReplay, isBinanceSource } from "./binance/binance-replay.js";
import { BybitConnector } from "./bybit/bybit-connector.js";
import { createBybitReplay } from "./bybit/bybit-replay.js";

export interface ConnectorServiceDeps {
  config: ConnectorConfig;
  /** Where events are published (`NatsEventBus` in production, `MemoryEventBus` in standalone/tests). */
  bus: Pick<EventBus, "publish">;
  logger: Logger;
  /** Gets the connector metrics (`market_scraper_connector_*`); none when absent. */
  registry?: Registry;
  scheduler?: Scheduler;
  fetch?: typeof fetch;
  instance?: string;
  /** Called when a replay connector has played its whole file. */
  onReplayFinished?: () => void;
  /**
   * Gets the `connectors` check: always ok (an exchange outage must not take the pod out of service),
   * with the detail `degraded: <connector> <state>: …; last error: …` while a connector is not healthy.
   */
  health?: HealthState;
  /**
   * Publishes handed to the bus and not yet settled beyond which market data is dropped (counted and
   * logged) instead of queued without bound while NATS is unreachable. Default 50 000.
   */
  maxPendingPublishes?: number;
}

export interface ConnectorService {
  readonly connectors: readonly Connector[];
  start(): Promise<void>;
  /** Stops the connectors (intake), then waits for every publish they made. */
  stop(): Promise<void>;
  health(): ConnectorHealth[];
  /** Publishes handed to the bus and not settled yet. */
  readonly pendingPublishes: number;
  /** Publishes the bus rejected (logged). */
  readonly failedPublishes: number;
  /** Market-data events dropped because too many publishes were pending. */
  readonly droppedEvents: number;
}

/** The readiness check the connector service keeps (see `ConnectorServiceDeps.health`). */
export const CONNECTORS_HEALTH_CHECK = "connectors";

/** Builds the configured connectors (this replica's shard of the symbols) around a bus. */
export function createConnectorService(deps: ConnectorServiceDeps): ConnectorService {
  const { config } = deps;
  const logger = deps.logger.child({ component: "connector-service" });
  const metrics: ConnectorMetrics = deps.registry
    ? createPromConnectorMetrics(deps.registry)
    : noopConnectorMetrics;
  let pending = 0;
  let failed = 0;
  let dropped = 0;
  let lastFailureLog = 0;
  let lastDropLog = 0;
  const maxPending = deps.maxPendingPublishes ?? 50_000;
  const droppedCounter =
    deps.registry === undefined
      ? undefined
      : new Counter({
          name: "market_scraper_connector_events_dropped_total",
          help: "Market-data events dropped because the bus had too many publishes pending (NATS unreachable)",
          registers: [deps.registry],
        });
  let idle: (() => void) | undefined;

  const sink: EventSink = {
    publish(event: StandardEvent): void {
      // The bus holds what it cannot send yet in a bounded queue and makes `publish` wait when it is
      // full; past our own bound, market data is dropped (system events always go through).
      if (pending >= maxPending && isMarketDataType(event.event_type)) {
        dropped += 1;
        droppedCounter?.inc();
        const now = Date.now();
        if (now - lastDropLog > 5_000) {
          lastDropLog = now;
          logger.error({ dropped, pending }, "too many publishes pending: dropping market data");
        }
        return;
      }
      pending += 1;
      deps.bus.publish(event).then(
        () => settle(),
        (error: unknown) => {
          failed += 1;
          const now = Date.now();
          if (now - lastFailureLog > 5_000) {
            lastFailureLog = now;
            logger.error({ err: error, failed, event_type: event.event_type }, "publishing an event failed");
          }
          settle();
        },
      );
    },
  };
  function settle(): void {
    pending -= 1;
    if (pending === 0) idle?.();
  }

  const captures: RawCaptureWriter[] = [];
  const connectors: Connector[] = [];
  let lastDetail: string | undefined;
  const refreshReadiness = (): void => {
    if (deps.health === undefined) return;
    const unwell = connectors.map((c) => c.health()).filter((h) => h.status !== "healthy");
    const detail =
      unwell.length === 0
        ? undefined
        : `degraded: ${unwell.map((h) => `${h.connector} ${h.detail ?? h.status}`).join("; ")}`;
    if (detail === lastDetail && lastDetail !== undefined) return;
    lastDetail = detail;
    deps.health.setCheck(CONNECTORS_HEALTH_CHECK, true, detail);
  };
  const common = {
    onChange: refreshReadiness,
    sink,
    logger: deps.logger,
    metrics,
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL,
    ...(deps.scheduler === undefined ? {} : { scheduler: deps.scheduler }),
    ...(deps.instance === undefined ? {} : { instance: deps.instance }),
  };
  const captureFor = (name: string): RawCaptureWriter | undefined => {
    if (config.CAPTURE_DIR === undefined) return undefined;
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const capture = new RawCaptureWriter(join(config.CAPTURE_DIR, `${name}-${stamp}-${process.pid}.jsonl`));
    captures.push(capture);
    logger.info({ file: capture.path }, `writing the raw capture of ${name}`);
    return capture;
  };
  for (const name of config.CONNECTORS) {
    switch (name) {
      case "binance":
      case "binance-usdm": {
        const p = name === "binance" ? "BINANCE" : "BINANCE_USDM";
        const symbols = shardSymbols(config[`${p}_SYMBOLS`], config.CONNECTOR_SHARD);
        logger.info({ symbols, shard: config.CONNECTOR_SHARD }, `${name} symbols of this replica`);
        const capture = captureFor(name);
        connectors.push(
          new BinanceConnector({
            ...common,
            kind: name === "binance" ? "spot" : "usdm",
            name,
            wsUrl: config[`${p}_WS_URL`],
            restUrl: config[`${p}_REST_URL`],
            symbols,
            channels: config[`${p}_CHANNELS`],
            intervals: config[`${p}_OHLCV_INTERVALS`],
            bookDepth: config[`${p}_BOOK_DEPTH`],
            bookIntervalMs: config[`${p}_BOOK_INTERVAL`],
            bookStaleAfterMs: config[`${p}_BOOK_STALE_AFTER`],
            snapshotLimit: config[`${p}_SNAPSHOT_LIMIT`],
            streamsPerConnection: config[`${p}_STREAMS_PER_CONNECTION`],
            maxConnectionAgeMs: config[`${p}_MAX_CONNECTION_AGE`],
            restWeightPerMinute: config[`${p}_REST_WEIGHT_PER_MINUTE`],
            dedupCapacity: config.DEDUP_CAPACITY,
            openInterestIntervalMs: config.BINANCE_USDM_OPEN_INTEREST_INTERVAL,
            ...(capture === undefined ? {} : { capture }),
            ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
          }),
        );
        break;
      }
      case "bybit-spot":
      case "bybit-linear": {
        const spot = name === "bybit-spot";
        const capture = captureFor(name);
        const symbols = shardSymbols(
          spot ? config.BYBIT_SPOT_SYMBOLS : config.BYBIT_LINEAR_SYMBOLS,
          config.CONNECTOR_SHARD,
        );
        logger.info({ symbols, shard: config.CONNECTOR_SHARD }, `${name} symbols of this replica`);
        connectors.push(
          new BybitConnector({
            ...common,
            category: spot ? "spot" : "linear",
            wsUrl: spot ? config.BYBIT_SPOT_WS_URL : config.BYBIT_LINEAR_WS_URL,
            restUrl: spot ? config.BYBIT_SPOT_REST_URL : config.BYBIT_LINEAR_REST_URL,
            symbols,
            channels: spot ? config.BYBIT_SPOT_CHANNELS : config.BYBIT_LINEAR_CHANNELS,
            intervals: spot ? config.BYBIT_SPOT_OHLCV_INTERVALS : config.BYBIT_LINEAR_OHLCV_INTERVALS,
            bookDepth: spot ? config.BYBIT_SPOT_BOOK_DEPTH : config.BYBIT_LINEAR_BOOK_DEPTH,
            bookIntervalMs: spot ? config.BYBIT_SPOT_BOOK_INTERVAL : config.BYBIT_LINEAR_BOOK_INTERVAL,
            topicsPerConnection: spot
              ? config.BYBIT_SPOT_TOPICS_PER_CONNECTION
              : config.BYBIT_LINEAR_TOPICS_PER_CONNECTION,
            dedupCapacity: config.DEDUP_CAPACITY,
            ...(capture === undefined ? {} : { capture }),
            ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
          }),
        );
        break;
      }
      case "hyperliquid": {
        let capture: RawCaptureWriter | undefined;
        if (config.CAPTURE_DIR !== undefined) {
          const stamp = new Date().toISOString().replace(/[:.]/g, "-");
          capture = new RawCaptureWriter(
            join(config.CAPTURE_DIR, `hyperliquid-${stamp}-${process.pid}.jsonl`),
          );
          captures.push(capture);
          logger.info({ file: capture.path }, "writing the raw capture of hyperliquid");
        }
        const symbols = shardSymbols(config.HYPERLIQUID_SYMBOLS, config.CONNECTOR_SHARD);
        logger.info({ symbols, shard: config.CONNECTOR_SHARD }, "hyperliquid symbols of this replica");
        connectors.push(
          new HyperliquidConnector({
            ...common,
            wsUrl: config.HYPERLIQUID_WS_URL,
            restUrl: config.HYPERLIQUID_REST_URL,
            symbols,
            channels: config.HYPERLIQUID_CHANNELS,
            intervals: config.HYPERLIQUID_OHLCV_INTERVALS,
            staleAfterMs: config.HYPERLIQUID_STALE_AFTER,
            connectionStaleAfterMs: config.HYPERLIQUID_CONNECTION_STALE_AFTER,
            pingIntervalMs: config.HYPERLIQUID_PING_INTERVAL,
            maxConnectionAgeMs: config.HYPERLIQUID_MAX_CONNECTION_AGE,
            ackTimeoutMs: config.HYPERLIQUID_ACK_TIMEOUT,
            backoff: {
              initialMs: config.HYPERLIQUID_RECONNECT_INITIAL,
              maxMs: config.HYPERLIQUID_RECONNECT_MAX,
            },
            restWeightPerMinute: config.HYPERLIQUID_REST_WEIGHT_PER_MINUTE,
            dedupCapacity: config.DEDUP_CAPACITY,
            ...(capture === undefined ? {} : { capture }),
            ...(deps.fetch === undefined ? {} : { fetch: deps.fetch }),
          }),
        );
        break;
      }
      case "replay":
        if (isBinanceSource(config.REPLAY_SOURCE)) {
          connectors.push(
            createBinanceReplay({
              ...common,
              name: config.REPLAY_SOURCE,
              file: config.REPLAY_FILE ?? "",
              pace: config.REPLAY_SPEED,
              dedupCapacity: config.DEDUP_CAPACITY,
              bookDepth:
                config.REPLAY_SOURCE === "binance"
                  ? config.BINANCE_BOOK_DEPTH
                  : config.BINANCE_USDM_BOOK_DEPTH,
              ...(deps.onReplayFinished === undefined ? {} : { onFinished: deps.onReplayFinished }),
            }),
          );
          break;
        }
        if (config.REPLAY_SOURCE === "bybit-spot" || config.REPLAY_SOURCE === "bybit-linear") {
          const spot = config.REPLAY_SOURCE === "bybit-spot";
          connectors.push(
            createBybitReplay({
              ...common,
              name: config.REPLAY_SOURCE,
              category: spot ? "spot" : "linear",
              file: config.REPLAY_FILE ?? "",
              pace: config.REPLAY_SPEED,
              dedupCapacity: config.DEDUP_CAPACITY,
              bookDepth: spot ? config.BYBIT_SPOT_BOOK_DEPTH : config.BYBIT_LINEAR_BOOK_DEPTH,
              bookIntervalMs: spot ? config.BYBIT_SPOT_BOOK_INTERVAL : config.BYBIT_LINEAR_BOOK_INTERVAL,
              ...(deps.onReplayFinished === undefined ? {} : { onFinished: deps.onReplayFinished }),
            }),
          );
          break;
        }
        connectors.push(
          createHyperliquidReplay({
            ...common,
            name: config.REPLAY_SOURCE,
            file: config.REPLAY_FILE ?? "",
            pace: config.REPLAY_SPEED,
            dedupCapacity: config.DEDUP_CAPACITY,
            ...(deps.onReplayFinished === undefined ? {} : { onFinished: deps.onReplayFinished }),
          }),
        );
        break;
    }
  }

  return {
    connectors,
    get pendingPublishes() {
      return pending;
    },
    get failedPublishes() {
      return failed;
    },
    get droppedEvents() {
      return dropped;
    },
    async start() {
      refreshReadiness();
      for (const connector of connectors) await connector.start();
    },
    async stop() {
      await Promise.all(connectors.map((c) => c.stop()));
      await Promise.all(captures.map((c) => c.close()));
      if (pending > 0) {
        await new Promise<void>((resolve) => {
          idle = resolve;
        });
      }
    },
    health: () => connectors.map((c) => c.health()),
  };
}
