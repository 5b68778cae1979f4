import { normalizeFilter } from "@market-scraper/events";
import type { Logger } from "@market-scraper/runtime";
import type { FastifyInstance } from "fastify";
import type { GatewayMetrics } from "../gateway-metrics.js";
import { SseParams, WsParams } from "../http/api-schemas.js";
import { GatewayError } from "../http/gateway-error.js";
import { parseInput } from "../http/parse-input.js";
import type { ClientOutboxOptions } from "./client-outbox.js";
import { SseClient } from "./sse-client.js";
import type { StreamHub } from "./stream-hub.js";
import { WsClient } from "./ws-client.js";

export interface StreamRoutesOptions {
  hub: StreamHub;
  outbox: (conflate: boolean) => ClientOutboxOptions;
  maxSubscriptions: number;
  /** Concurrent streams per client address (for the 429 message; the hub enforces it). */
  maxPerAddress: number;
  closeGraceMs: number;
  logger: Logger;
  metrics: GatewayMetrics;
}

/** Throws the answer when the hub has no room for one more stream from `address` (counted). */
function admit(hub: StreamHub, address: string, metrics: GatewayMetrics, limit: number): void {
  switch (hub.admit(address)) {
    case "ok":
      return;
    case "full":
      metrics.streamRefused.inc({ reason: "max_clients" });
      throw new GatewayError("UNAVAILABLE", "too many stream clients on this gateway; try another", {
        headers: { "retry-after": "5" },
      });
    case "address_full":
      metrics.streamRefused.inc({ reason: "max_per_address" });
      throw new GatewayError(
        "RATE_LIMITED",
        `at most ${limit} concurrent streams per client address; close one first`,
        { headers: { "retry-after": "5" } },
      );
  }
}

const UPGRADE_MESSAGE = "/v1/stream is a WebSocket: connect with a WebSocket client";

/**
 * `GET /v1/stream/sse` and `WS /v1/stream`. Both are validated (query, client limit) before anything
 * streams, so a bad request gets a plain JSON error; the auth and rate-limit hooks ran before that.
 */
export function registerStreamRoutes(server: FastifyInstance, options: StreamRoutesOptions): void {
  const { hub, logger, metrics } = options;

  server.get("/v1/stream/sse", async (request, reply) => {
    const query = parseInput(SseParams, request.query, "query parameter");
    admit(hub, request.ip, metrics, options.maxPerAddress);
    const view = {
      event_types: query.event_types ?? null,
      symbols: query.symbols ?? null,
      sources: query.sources ?? null,
    };
    const filter = normalizeFilter({
      ...(query.event_types === undefined ? {} : { event_types: query.event_types }),
      ...(query.symbols === undefined ? {} : { symbols: query.symbols }),
      ...(query.sources === undefined ? {} : { sources: query.sources }),
    });
    // From here on the response is ours: fastify's hooks already set the security and CORS headers.
    reply.hijack();
    const client = new SseClient({
      response: reply.raw,
      headers: reply.getHeaders(),
      filter,
      view,
      hub,
      outbox: options.outbox(query.conflate ?? false),
      closeGraceMs: options.closeGraceMs,
      logger,
      metrics,
    });
    hub.add(client, request.ip);
    client.start();
    metrics.httpRequests.inc({ method: "GET", route: "/v1/stream/sse", status: "200" });
  });

  server.route({
    method: "GET",
    url: "/v1/stream",
    preHandler: async (request) => {
      parseInput(WsParams, request.query, "query parameter");
      if (!request.ws) {
        throw new GatewayError("UPGRADE_REQUIRED", UPGRADE_MESSAGE, { headers: { upgrade: "websocket" } });
      }
      admit(hub, request.ip, metrics, options.maxPerAddress);
    },
    handler: async () => {
      throw new GatewayError("UPGRADE_REQUIRED", UPGRADE_MESSAGE);
    },
    wsHandler: (socket, request) => {
      const query = parseInput(WsParams, request.query, "query parameter");
      const client = new WsClient({
        socket,
        hub,
        outbox: options.outbox(query.conflate ?? false),
        maxSubscriptions: options.maxSubscriptions,
        closeGraceMs: options.closeGraceMs,
        logger,
        metrics,
      });
      // The hub filled up (or started closing) between the check and the upgrade.
      if (!hub.add(client, request.ip)) client.close("shutdown");
      metrics.httpRequests.inc({ method: "GET", route: "/v1/stream", status: "101" });
    },
  });
}
