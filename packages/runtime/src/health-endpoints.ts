import type { Registry } from "prom-client";
import type { HealthCheck, HealthState } from "./health-state.js";

/** The paths every service serves on its `HTTP_PORT` (contract): liveness, readiness, Prometheus metrics. */
export const HEALTH_PATHS = ["/healthz", "/readyz", "/metrics"] as const;
export type HealthPath = (typeof HEALTH_PATHS)[number];

/** What a health path answers, independent of the HTTP server that sends it (node:http, fastify). */
export interface HealthAnswer {
  readonly status: number;
  /** `Content-Type` and `Cache-Control` (never cached: probes and scrapes want the state now). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface HealthEndpointsOptions {
  health: HealthState;
  registry: Registry;
  /**
   * Readiness checks beyond the health state's own, read at each request (e.g. the gateway's bus and its
   * own started/stopping state); `/readyz` is 200 only when these are ok too.
   */
  checks?: () => Readonly<Record<string, HealthCheck>>;
  /** Shutting down besides the health state's own draining (e.g. a server stopping on its own). */
  draining?: () => boolean;
}

/**
 * The answer to a request for `method` `path` (the path without its query), for the server to send:
 * `undefined` when `path` is not a health path (the server's other routes take it). GET and HEAD are
 * answered (the server leaves out a HEAD's body); any other method 405 with `Allow: GET, HEAD`.
 */
export type HealthEndpoints = (method: string, path: string) => Promise<HealthAnswer | undefined>;

export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** True for `/healthz`, `/readyz` and `/metrics`. */
export function isHealthPath(path: string): path is HealthPath {
  return (HEALTH_PATHS as readonly string[]).includes(path);
}

/**
 * The one implementation of `/healthz` (200 `{status:"ok"}` while live, else 503 `not_live`), `/readyz`
 * (200 while ready, else 503 `not_ready`, with `draining` and every check) and `/metrics` (the registry in
 * Prometheus text). `startHttpServer` serves it on node:http; the gateway mounts it on its fastify routes.
 */
export function healthEndpoints(options: HealthEndpointsOptions): HealthEndpoints {
  const { health, registry } = options;
  const get = async (path: HealthPath): Promise<HealthAnswer> => {
    switch (path) {
      case "/healthz":
        return health.live ? json(200, { status: "ok" }) : json(503, { status: "not_live" });
      case "/readyz": {
        const snapshot = health.snapshot();
        const checks = { ...snapshot.checks, ...options.checks?.() };
        const draining = snapshot.draining || (options.draining?.() ?? false);
        const ready = snapshot.ready && !draining && Object.values(checks).every((check) => check.ok);
        return json(ready ? 200 : 503, { status: ready ? "ok" : "not_ready", draining, checks });
      }
      case "/metrics":
        return {
          status: 200,
          headers: { "content-type": registry.contentType, "cache-control": "no-store" },
          body: await registry.metrics(),
        };
    }
  };

  return async (method, path) => {
    if (!isHealthPath(path)) return undefined;
    if (method === "GET" || method === "HEAD") return get(path);
    const refused = httpError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed on ${path}`);
    return { ...refused, headers: { ...refused.headers, allow: "GET, HEAD" } };
  };
}

function json(status: number, body: unknown): HealthAnswer {
  return {
    status,
    headers: { "content-type": JSON_CONTENT_TYPE, "cache-control": "no-store" },
    body: JSON.stringify(body),
  };
}

/** A JSON error answer, `{ "error": { "code", "message" } }` as every HTTP error in the project. */
export function httpError(status: number, code: string, message: string): HealthAnswer {
  return json(status, { error: { code, message } });
}
