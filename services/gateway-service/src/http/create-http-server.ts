import fastifyCors from "@fastify/cors";
import fastifyHelmet from "@fastify/helmet";
import fastifyWebsocket from "@fastify/websocket";
import type { Socket } from "node:net";
import { STATUS_CODES } from "node:http";
import type { Logger } from "@market-scraper/runtime";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from "fastify";
import type { GatewayMetrics } from "../gateway-metrics.js";
import { toGatewayError } from "./error-mapping.js";
import { GatewayError, errorBody } from "./gateway-error.js";
import { type RequestGuardOptions, guardRequest, isV1 } from "./request-guard.js";

export interface HttpServerOptions {
  logger: Logger;
  metrics: GatewayMetrics;
  guard: RequestGuardOptions;
  bodyLimit: number;
  corsOrigins: readonly string[];
  trustProxy: boolean;
  wsMaxMessage: number;
}

/** Content Security Policy: everything from this origin (the page's libraries are served here). */
const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  // lightweight-charts and Swagger UI set inline styles.
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", "data:"],
  fontSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
};

/**
 * Errors Node's HTTP parser raises before there is a request (headers or URL over the header size
 * limit, a request that took too long, malformed HTTP), answered on the raw socket in the error
 * format instead of fastify's own body, then the connection is closed.
 */
function clientErrorAnswer(err: NodeJS.ErrnoException, socket: Socket): GatewayError | undefined {
  if (err.code === "ECONNRESET" || socket.destroyed) return undefined;
  switch (err.code) {
    case "HPE_HEADER_OVERFLOW":
      return new GatewayError("HEADERS_TOO_LARGE", "the request line and headers exceed the size limit");
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new GatewayError("REQUEST_TIMEOUT", "the request was not received in time");
    default:
      return new GatewayError("BAD_REQUEST", "malformed HTTP request");
  }
}

export function sendError(reply: FastifyReply, error: GatewayError): FastifyReply {
  return reply
    .code(error.status)
    .headers({ ...error.headers, "cache-control": "no-store" })
    .type("application/json; charset=utf-8")
    .send(errorBody(error.code, error.message));
}

/**
 * The fastify instance with what every route shares, in hook order: request size (413), security
 * headers, CORS, then for `/v1` readiness, API key and rate limit; JSON errors everywhere; request metrics.
 * Routes are added by the caller.
 */
export async function createHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const { metrics, bodyLimit } = options;
  // Typed as fastify's logger so the instance is the plain `FastifyInstance` the route modules take.
  const httpLogger: FastifyBaseLogger = options.logger.child({ component: "http" });
  const server = Fastify({
    loggerInstance: httpLogger,
    // One debug line per request from the onResponse hook instead of fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    trustProxy: options.trustProxy,
    // Requests that arrive while closing still get the hooks (and a 503 in our error format on /v1).
    return503OnClosing: false,
    routerOptions: { maxParamLength: 256, ignoreTrailingSlash: true },
    // Router errors (a path parameter over maxParamLength: 414, a bad URL encoding: 400).
    frameworkErrors: (error, _request, reply) => {
      void sendError(reply, toGatewayError(error));
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      const error = clientErrorAnswer(err, socket);
      if (error === undefined) return;
      httpLogger.debug({ code: err.code, status: error.status }, "client error");
      metrics.httpRequests.inc({ method: "unparsed", route: "unparsed", status: String(error.status) });
      if (socket.writable) {
        const body = JSON.stringify(error.toBody());
        socket.write(
          `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? "Error"}\r\n` +
            `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
            `cache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    },
  });
  // Size first: an oversize request is refused before anything reads its body.
  server.addHook("onRequest", async (request, reply) => {
    const length = Number(request.headers["content-length"] ?? 0);
    if (Number.isFinite(length) && length > bodyLimit) {
      reply.header("connection", "close");
      throw new GatewayError("PAYLOAD_TOO_LARGE", `request bodies are limited to ${bodyLimit} bytes`);
    }
  });

  await server.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    crossOriginEmbedderPolicy: false,
  });
  if (options.corsOrigins.length > 0) {
    const origins = options.corsOrigins;
    await server.register(fastifyCors, {
      origin: origins.includes("*") ? "*" : [...origins],
      methods: ["GET", "HEAD", "OPTIONS"],
      allowedHeaders: ["authorization", "x-api-key", "content-type", "last-event-id"],
      exposedHeaders: ["retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
      maxAge: 600,
    });
  }
  await server.register(fastifyWebsocket, { options: { maxPayload: options.wsMaxMessage } });

  server.addHook("onRequest", async (request, reply) => {
    // CORS preflights carry no credentials; the CORS plugin answers them.
    if (!isV1(request.url) || request.method === "OPTIONS") return;
    reply.headers(guardRequest(request, options.guard).headers);
  });

  server.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    request.log.debug(
      { method: request.method, route, status: reply.statusCode, ms: reply.elapsedTime },
      "request",
    );
  });

  server.setErrorHandler((error, request, reply) => {
    const gatewayError = toGatewayError(error);
    if (gatewayError.status >= 500) {
      request.log.error({ err: error, route: request.routeOptions.url }, "request failed");
    }
    return sendError(reply, gatewayError);
  });
  server.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new GatewayError("NOT_FOUND", `no route for ${request.method} ${request.url.split("?", 1)[0] ?? ""}`),
    ),
  );
  return server;
}
