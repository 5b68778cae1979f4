import {
  HEALTH_PATHS,
  type HealthCheck,
  type HealthState,
  type Registry,
  healthEndpoints,
} from "@market-scraper/runtime";
import type { FastifyInstance } from "fastify";
import type { StaticAsset } from "./static-assets.js";

export interface OperationsRoutesOptions {
  health: HealthState;
  registry: Registry;
  /** Extra readiness checks of the gateway itself (bus connected, started and not stopping). */
  checks: () => Record<string, HealthCheck>;
  /** Shutting down (besides the health state's own draining). */
  stopping: () => boolean;
  openapi: unknown;
  assets: ReadonlyMap<string, StaticAsset>;
}

/** The open routes: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, the page and the docs. */
export function registerOperationsRoutes(server: FastifyInstance, options: OperationsRoutesOptions): void {
  // The runtime's health endpoints (one implementation, the same contract as every other service's port),
  // sent through fastify.
  const answer = healthEndpoints({
    health: options.health,
    registry: options.registry,
    checks: options.checks,
    draining: options.stopping,
  });
  for (const path of HEALTH_PATHS) {
    server.route({
      // Every method but OPTIONS (CORS preflight): the runtime answers 405 to what it does not serve.
      method: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
      url: path,
      exposeHeadRoute: false,
      handler: async (request, reply) => {
        const { status, headers, body } = (await answer(request.method, path))!;
        return reply.code(status).headers(headers).send(body);
      },
    });
  }
  server.get("/openapi.json", async (_request, reply) =>
    reply.header("cache-control", "no-cache").send(options.openapi),
  );
  for (const [path, asset] of options.assets) {
    server.get(path, async (_request, reply) =>
      reply
        .header("content-type", asset.contentType)
        .header("cache-control", asset.cacheControl)
        .send(asset.body),
    );
  }
}
