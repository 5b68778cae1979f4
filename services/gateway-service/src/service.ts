import type { EventBus, Subscription } from "@market-scraper/bus";
import { HealthState, type Logger, type Registry, createMetricsRegistry } from "@market-scraper/runtime";
import type { FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import type { GatewayConfig } from "./config.js";
import { createGatewayMetrics } from "./gateway-metrics.js";
import { ApiKeys } from "./http/api-keys.js";
import { API_ROUTES } from "./http/api-routes.js";
import { createHttpServer } from "./http/create-http-server.js";
import { buildOpenApiDocument } from "./http/openapi.js";
import { registerOperationsRoutes } from "./http/operations-routes.js";
import { RateLimiter } from "./http/rate-limiter.js";
import { registerApiRoutes } from "./http/register-api-routes.js";
import { loadStaticAssets } from "./http/static-assets.js";
import { instrumentStorageClient } from "./storage/instrumented-storage-client.js";
import type { StorageClient } from "./storage/storage-client.js";
import { StreamBudget } from "./stream/stream-budget.js";
import { StreamHub } from "./stream/stream-hub.js";
import { registerStreamRoutes } from "./stream/stream-routes.js";

export const GATEWAY_VERSION = "0.1.0";

/** What the gateway reads of its configuration (the parsed env, or a test's object). */
export type GatewayServiceConfig = Pick<
  GatewayConfig,
  | "HTTP_PORT"
  | "GATEWAY_API_KEYS"
  | "GATEWAY_RATE_LIMIT"
  | "GATEWAY_RATE_LIMIT_WINDOW"
  | "GATEWAY_AUTH_FAILURE_LIMIT"
  | "GATEWAY_AUTH_FAILURE_WINDOW"
  | "GATEWAY_CORS_ORIGINS"
  | "GATEWAY_BODY_LIMIT"
  | "GATEWAY_STREAM_BUFFER"
  | "GATEWAY_STREAM_HIGH_WATER"
  | "GATEWAY_STREAM_MAX_CLIENTS"
  | "GATEWAY_STREAM_MEMORY"
  | "GATEWAY_STREAM_MAX_PER_ADDRESS"
  | "GATEWAY_WS_MAX_SUBSCRIPTIONS"
  | "GATEWAY_WS_MAX_MESSAGE"
  | "GATEWAY_STREAM_HEARTBEAT"
  | "GATEWAY_STREAM_CLOSE_GRACE"
  | "GATEWAY_TRUST_PROXY"
>;

export interface GatewayServiceDeps {
  /** Live events: one plain subscription to `processed.>` and `system.>` per replica. */
  bus: EventBus;
  /** History queries (`storage.*`). */
  storage: StorageClient;
  logger: Logger;
  config: GatewayServiceConfig;
  /** Served on `/metrics`; default a new one. */
  registry?: Registry;
  /** Served on `/healthz` and `/readyz`; default a new one. */
  health?: HealthState;
  /** Milliseconds since the epoch (rate-limit windows). */
  clock?: () => number;
  /** Interface to listen on; default `0.0.0.0`. */
  host?: string;
}

export interface GatewayService {
  /** Listens on `HTTP_PORT` (0: a free port), then subscribes to the live events. */
  start(): Promise<void>;
  /** Readiness off, stops the subscription, closes every stream with a reason, then the server. */
  stop(): Promise<void>;
  /** The bound port (after `start`). */
  readonly port: number;
  /** `http://127.0.0.1:<port>` (after `start`). */
  readonly url: string;
  /** Connected WebSocket and SSE clients. */
  readonly streamClients: number;
  /** Started, not stopping, health checks ok and the bus connected. */
  isReady(): boolean;
}

/** The live stream carries what a gateway may read: processed market data and system events. */
export const LIVE_FILTER = { stage: ["processed", "system"] } as const;

/**
 * The gateway: REST history over the storage service, WebSocket and SSE live streams fanned out from
 * one bus subscription, the live page, `/docs` and `/openapi.json`, `/healthz` `/readyz` `/metrics`
 * on the same port. No process globals: `main.ts`, tests and `standalone` build it.
 */
export function createGatewayService(deps: GatewayServiceDeps): GatewayService {
  const { bus, config } = deps;
  const logger = deps.logger.child({ component: "gateway" });
  const registry =
    deps.registry ?? createMetricsRegistry({ service: "gateway-service", collectDefault: false });
  const health = deps.health ?? new HealthState();
  const budget = new StreamBudget(config.GATEWAY_STREAM_MEMORY);
  const metrics = createGatewayMetrics(registry, { streamBufferedBytes: () => budget.used });
  const storage = instrumentStorageClient(deps.storage, metrics.storageRequests);
  const apiKeys = new ApiKeys(config.GATEWAY_API_KEYS);
  const hub = new StreamHub({
    maxClients: config.GATEWAY_STREAM_MAX_CLIENTS,
    maxPerAddress: config.GATEWAY_STREAM_MAX_PER_ADDRESS,
    budget,
    burstEvents: Math.max(1, Math.floor(config.GATEWAY_STREAM_BUFFER / 2)),
    metrics,
  });
  const clock = deps.clock === undefined ? {} : { clock: deps.clock };

  let server: FastifyInstance | undefined;
  let subscription: Subscription | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let started = false;
  let stopping = false;
  let address: AddressInfo | undefined;

  const isReady = (): boolean => started && !stopping && health.ready && bus.isReady();

  async function build(): Promise<FastifyInstance> {
    const app = await createHttpServer({
      logger: deps.logger,
      metrics,
      bodyLimit: config.GATEWAY_BODY_LIMIT,
      corsOrigins: config.GATEWAY_CORS_ORIGINS,
      trustProxy: config.GATEWAY_TRUST_PROXY,
      wsMaxMessage: config.GATEWAY_WS_MAX_MESSAGE,
      guard: {
        apiKeys,
        limiter: new RateLimiter({
          limit: config.GATEWAY_RATE_LIMIT,
          windowMs: config.GATEWAY_RATE_LIMIT_WINDOW,
          ...clock,
        }),
        windowMs: config.GATEWAY_RATE_LIMIT_WINDOW,
        authFailures: new RateLimiter({
          limit: config.GATEWAY_AUTH_FAILURE_LIMIT,
          windowMs: config.GATEWAY_AUTH_FAILURE_WINDOW,
          ...clock,
        }),
        authFailureWindowMs: config.GATEWAY_AUTH_FAILURE_WINDOW,
        onAuthFailure: (outcome) => metrics.authFailures.inc({ outcome }),
        state: () => (isReady() ? "ready" : stopping ? "stopping" : "starting"),
      },
    });
    registerOperationsRoutes(app, {
      health,
      registry,
      stopping: () => stopping,
      checks: () => ({
        bus: bus.isReady() ? { ok: true } : { ok: false, detail: "not connected" },
        gateway:
          started && !stopping ? { ok: true } : { ok: false, detail: stopping ? "stopping" : "starting" },
      }),
      openapi: buildOpenApiDocument({ version: GATEWAY_VERSION, routes: API_ROUTES, secured: !apiKeys.open }),
      assets: await loadStaticAssets(),
    });
    registerApiRoutes(app, API_ROUTES, storage);
    registerStreamRoutes(app, {
      hub,
      outbox: (conflate) => ({
        highWaterBytes: config.GATEWAY_STREAM_HIGH_WATER,
        maxQueued: config.GATEWAY_STREAM_BUFFER,
        conflate,
        budget,
      }),
      maxSubscriptions: config.GATEWAY_WS_MAX_SUBSCRIPTIONS,
      maxPerAddress: config.GATEWAY_STREAM_MAX_PER_ADDRESS,
      closeGraceMs: config.GATEWAY_STREAM_CLOSE_GRACE,
      logger,
      metrics,
    });
    return app;
  }

  return {
    async start() {
      if (server !== undefined) throw new Error("the gateway is started already");
      server = await build();
      // HTTP first: /healthz answers (and /readyz says why not ready) while the bus connects.
      await server.listen({ port: config.HTTP_PORT, host: deps.host ?? "0.0.0.0" });
      address = server.server.address() as AddressInfo;
      logger.info({ port: address.port }, "gateway listening");
      // Every replica subscribes on its own (no queue group): each has all events for its clients.
      subscription = await bus.subscribe(LIVE_FILTER, (event) => hub.publish(event));
      heartbeat = setInterval(() => hub.heartbeat(), config.GATEWAY_STREAM_HEARTBEAT);
      heartbeat.unref();
      started = true;
      logger.info("gateway started");
    },

    async stop() {
      if (stopping) return;
      stopping = true; // /v1 answers 503 from now on
      clearInterval(heartbeat);
      try {
        await subscription?.unsubscribe();
      } catch (err) {
        logger.warn({ err }, "could not unsubscribe from the live events");
      }
      const clients = hub.size;
      hub.closeAll("shutdown");
      if (clients > 0) logger.info({ clients }, "closed the stream clients");
      if (server !== undefined) {
        // In-flight requests get the grace period to finish; a connection still open then (a client
        // that never finishes sending its request) is cut so that shutdown cannot hang.
        const app = server;
        const cut = setTimeout(() => app.server.closeAllConnections(), config.GATEWAY_STREAM_CLOSE_GRACE);
        cut.unref();
        await app.close();
        clearTimeout(cut);
      }
      logger.info("gateway stopped");
    },

    get port() {
      if (address === undefined) throw new Error("the gateway is not started");
      return address.port;
    },

    get url() {
      return `http://127.0.0.1:${this.port}`;
    },

    get streamClients() {
      return hub.size;
    },

    isReady,
  };
}
