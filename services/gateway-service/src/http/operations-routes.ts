import type { HealthState, Registry } from "@market-scraper/runtime";
import type { FastifyInstance } from "fastify";
import type { StaticAsset } from "./static-assets.js";

export interface OperationsRoutesOptions {
  health: HealthState;
  registry: Registry;
  /** Extra readiness checks of the gateway itself (bus connected, started and not stopping). */
  checks: () => Record<string, { ok: boolean; detail?: string }>;
  ready: () => boolean;
  /** Shutting down (besides the health state's own draining). */
  stopping: () => boolean;
  openapi: unknown;
  assets: ReadonlyMap<string, StaticAsset>;
}

/** The open routes: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, the page and the docs. */
export function registerOperationsRoutes(server: FastifyInstance, options: OperationsRoutesOptions): void {
  const { health, registry } = options;
  server.get("/healthz", async (_request, reply) =>
    reply
      .code(health.live ? 200 : 503)
      .header("cache-control", "no-store")
      .send({ status: health.live ? "ok" : "not_live" }),
  );
  server.get("/readyz", async (_request, reply) => {
    const snapshot = health.snapshot();
    const ready = options.ready();
    return reply
      .code(ready ? 200 : 503)
      .header("cache-control", "no-store")
      .send({
        status: ready ? "ok" : "not_ready",
        draining: snapshot.draining || options.stopping(),
        checks: { ...snapshot.checks, ...options.checks() },
      });
  });
  server.get("/metrics", async (_request, reply) =>
    reply
      .header("content-type", registry.contentType)
      .header("cache-control", "no-store")
      .send(await registry.metrics()),
  );
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
