import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import {
  type HealthAnswer,
  type HealthEndpointsOptions,
  healthEndpoints,
  httpError,
} from "./health-endpoints.js";
import type { HealthState } from "./health-state.js";
import type { Logger } from "./logger.js";
import { RuntimeError } from "./runtime-error.js";

/** The closed set of error codes the built-in endpoints answer with, and their HTTP status. */
export type HttpErrorCode = "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "INTERNAL";

export const HTTP_ERROR_STATUS: Readonly<Record<HttpErrorCode, number>> = {
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  INTERNAL: 500,
};

/** Handles every request that is not a built-in endpoint (e.g. the gateway's API). */
export type HttpFallback = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface StartHttpServerOptions {
  /** 0 picks a free port (see `RunningHttpServer.port`). */
  port: number;
  /** Default `0.0.0.0`. */
  host?: string;
  logger: Logger;
  registry: Registry;
  health: HealthState;
  /** Readiness checks beyond the health state's own (see `healthEndpoints`). */
  checks?: HealthEndpointsOptions["checks"];
  fallback?: HttpFallback;
  /** How long `close()` lets in-flight requests finish before cutting their connections; default 5000. */
  closeTimeoutMs?: number;
}

export interface RunningHttpServer {
  /** The port actually bound. */
  readonly port: number;
  /** A URL that reaches the server from this host, e.g. `http://127.0.0.1:9101`. */
  readonly url: string;
  /** The node server, e.g. for WebSocket `upgrade` handling. */
  readonly server: Server;
  /** Stops accepting, closes idle keep-alive sockets, waits for in-flight requests (cut after the timeout). */
  close(): Promise<void>;
}

function sendAnswer(req: IncomingMessage, res: ServerResponse, answer: HealthAnswer): void {
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.setHeader("Content-Length", Buffer.byteLength(answer.body));
  res.end(req.method === "HEAD" ? undefined : answer.body);
}

function sendError(req: IncomingMessage, res: ServerResponse, code: HttpErrorCode, message: string): void {
  sendAnswer(req, res, httpError(HTTP_ERROR_STATUS[code], code, message));
}

function pathOf(url: string | undefined): string {
  const raw = url ?? "/";
  const end = raw.search(/[?#]/);
  return end === -1 ? raw : raw.slice(0, end);
}

function reachableUrl(host: string, port: number): string {
  if (host === "0.0.0.0" || host === "") return `http://127.0.0.1:${port}`;
  if (host === "::") return `http://[::1]:${port}`;
  return host.includes(":") ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

/**
 * Serves `healthEndpoints` (`/healthz`, `/readyz`, `/metrics`; GET and HEAD) on one port; everything else
 * goes to `fallback` or a JSON 404.
 */
export async function startHttpServer(options: StartHttpServerOptions): Promise<RunningHttpServer> {
  const { fallback } = options;
  const answer = healthEndpoints({
    health: options.health,
    registry: options.registry,
    ...(options.checks === undefined ? {} : { checks: options.checks }),
  });
  const host = options.host ?? "0.0.0.0";
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
  const logger = options.logger.child({ component: "http-server" });
  const inFlight = new Set<ServerResponse>();
  let closing: Promise<void> | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A request that starts while closing gets its connection closed after the answer.
    if (closing !== undefined) res.setHeader("Connection", "close");
    const path = pathOf(req.url);
    const health = await answer(req.method ?? "GET", path);
    if (health !== undefined) sendAnswer(req, res, health);
    else if (fallback !== undefined) await fallback(req, res);
    else sendError(req, res, "NOT_FOUND", `no route for ${req.method ?? "GET"} ${path}`);
  }

  const server = createServer((req, res) => {
    inFlight.add(res);
    res.once("close", () => {
      inFlight.delete(res);
      // While closing, a keep-alive socket that just went idle is closed at once rather than at the timeout.
      if (closing !== undefined) setImmediate(() => server.closeIdleConnections());
    });
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error, method: req.method, url: req.url }, "request failed");
      if (!res.headersSent) sendError(req, res, "INTERNAL", "internal error");
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(
        new RuntimeError("HTTP_LISTEN_FAILED", `cannot listen on ${host}:${options.port}: ${error.message}`, {
          cause: error,
        }),
      );
    };
    server.once("error", onError);
    server.listen(options.port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  server.on("error", (error) => logger.error({ err: error }, "http server error"));

  const port = (server.address() as AddressInfo).port;
  const url = reachableUrl(host, port);
  logger.info({ port, host }, "http server listening");

  function close(): Promise<void> {
    closing ??= new Promise<void>((resolve, reject) => {
      for (const res of inFlight) if (!res.headersSent) res.setHeader("Connection", "close");
      const timer = setTimeout(() => {
        logger.warn({ inFlight: inFlight.size }, "http server close timed out; cutting connections");
        server.closeAllConnections();
      }, closeTimeoutMs);
      timer.unref();
      server.close((error) => {
        clearTimeout(timer);
        if (error === undefined) resolve();
        else reject(error);
      });
      // Keep-alive sockets with no request in flight would otherwise hold close() open.
      server.closeIdleConnections();
    });
    return closing;
  }

  return { port, url, server, close };
}
