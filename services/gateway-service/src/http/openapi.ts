import { EVENT_TYPES, EventSchemas, type EventType, StandardEventSchema } from "@market-scraper/events";
import { z } from "zod";
import { PingMessage, SubscribeMessage, UnsubscribeMessage } from "../stream/ws-protocol.js";
import type { ApiRoute } from "./api-routes.js";
import { ErrorResponse, HealthResponse, ReadyResponse, SseParams, WsParams } from "./api-schemas.js";
import { ERROR_STATUS, type GatewayErrorCode } from "./gateway-error.js";

type JsonObject = Record<string, unknown>;

const REF = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** Every `/v1` route may answer these besides its own errors. */
const V1_ERRORS: readonly GatewayErrorCode[] = [
  "URI_TOO_LONG",
  "RATE_LIMITED",
  "HEADERS_TOO_LARGE",
  "UNAVAILABLE",
  "INTERNAL",
];
const AUTH_ERRORS: readonly GatewayErrorCode[] = ["UNAUTHORIZED", "FORBIDDEN"];

function pascal(type: EventType): string {
  return type
    .split("_")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");
}

/** JSON Schema documents of the registered schemas, with `$ref`s into `#/components/schemas`. */
function components(
  entries: readonly [string, z.ZodType][],
  io: "input" | "output",
): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of entries) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io,
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonObject> };
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return schemas;
}

/** Query parameters of a strict object schema, one OpenAPI parameter per property. */
function parameters(schema: z.ZodType, where: "query" | "path"): JsonObject[] {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, JsonObject>;
    required?: string[];
  };
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

function errorResponses(codes: readonly GatewayErrorCode[]): Record<string, JsonObject> {
  const byStatus = new Map<number, GatewayErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, JsonObject> = {};
  for (const [status, list] of [...byStatus.entries()].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: `error: ${list.join(", ")}`,
      content: { "application/json": { schema: REF("Error") } },
    };
  }
  return responses;
}

export interface OpenApiOptions {
  version: string;
  routes: readonly ApiRoute[];
  /** API keys are configured: `/v1` operations carry the security requirement. */
  secured: boolean;
}

const WS_DESCRIPTION = `WebSocket stream of live events (upgrade with \`GET /v1/stream\`).

Client messages (JSON text frames):
- \`{"action":"subscribe","id":"s1","event_types":["trade"],"symbols":["BTC-USD"],"sources":["hyperliquid"]}\` — every field but \`action\` is optional; absent lists match anything; \`id\` is assigned when absent. A connection may hold several subscriptions; an event matching several is sent once.
- \`{"action":"unsubscribe","id":"s1"}\` — without \`id\`: every subscription.
- \`{"action":"ping"}\`

Server frames:
- \`{"type":"subscribed","id","event_types","symbols","sources","subscriptions":[…]}\` after a subscribe; \`{"type":"subscribed","removed":[…],"subscriptions":[…]}\` after an unsubscribe.
- \`{"type":"event","event":{…StandardEvent}}\`
- \`{"type":"pong"}\`
- \`{"type":"error","error":{"code","message"}}\` for a bad message (codes BAD_REQUEST, NOT_FOUND, LIMIT_EXCEEDED); the socket stays open.

Close codes: 1008 \`SLOW_CONSUMER\` (the client did not keep up: more than GATEWAY_STREAM_BUFFER events waited for it, or it was among the slowest while the gateway's stream buffers were at GATEWAY_STREAM_MEMORY), 1001 \`SHUTTING_DOWN\`, 1009 (a message larger than GATEWAY_WS_MAX_MESSAGE). With \`conflate=true\`, a client that falls behind gets only the latest ticker, order book and derivative ticker per source and symbol instead of being cut for them.`;

const SSE_DESCRIPTION = `Server-sent events with the same filters as the WebSocket (comma-separated lists).
The stream starts with \`event: subscribed\` (the filter), then one unnamed message per event (\`id:\` the event_id, \`data:\` the event JSON), \`: ping\` comments as keep-alive, and ends with \`event: close\` and \`data: {"error":{"code","message"}}\` (SLOW_CONSUMER, SHUTTING_DOWN) when the gateway closes it.`;

/** The OpenAPI 3.1 document of the gateway, generated from the same zod schemas the routes validate with. */
export function buildOpenApiDocument(options: OpenApiOptions): JsonObject {
  const outputs: [string, z.ZodType][] = [
    ["StandardEvent", StandardEventSchema],
    ...EVENT_TYPES.map((t): [string, z.ZodType] => [`${pascal(t)}Event`, EventSchemas[t]]),
    ["Error", ErrorResponse],
    ["Health", HealthResponse],
    ["Readiness", ReadyResponse],
  ];
  const responseIds = new Map<z.ZodType, string>();
  for (const r of options.routes) {
    if (!responseIds.has(r.response)) {
      const id = `${r.operationId.charAt(0).toUpperCase()}${r.operationId.slice(1)}Response`;
      responseIds.set(r.response, id);
      outputs.push([id, r.response]);
    }
  }
  const schemas = {
    ...components(outputs, "output"),
    ...components(
      [
        ["WsSubscribe", SubscribeMessage],
        ["WsUnsubscribe", UnsubscribeMessage],
        ["WsPing", PingMessage],
      ],
      "input",
    ),
  };
  const security = options.secured ? [{ bearerAuth: [] }, { apiKeyHeader: [] }] : undefined;
  const streamSecurity = options.secured ? [...(security ?? []), { apiKeyQuery: [] }] : undefined;
  const v1Errors = [...V1_ERRORS, ...(options.secured ? AUTH_ERRORS : [])];

  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const r of options.routes) {
    paths[r.path] = {
      get: {
        operationId: r.operationId,
        summary: r.summary,
        ...(r.description === undefined ? {} : { description: r.description }),
        tags: [r.tag],
        parameters: [...(r.params ? parameters(r.params, "path") : []), ...parameters(r.query, "query")],
        ...(security === undefined ? {} : { security }),
        responses: {
          "200": {
            description: "OK",
            content: { "application/json": { schema: REF(responseIds.get(r.response)!) } },
          },
          ...errorResponses([...r.errors, ...v1Errors]),
        },
      },
    };
  }
  paths["/v1/stream/sse"] = {
    get: {
      operationId: "streamSse",
      summary: "Live events as server-sent events",
      description: SSE_DESCRIPTION,
      tags: ["streams"],
      parameters: parameters(SseParams, "query"),
      ...(streamSecurity === undefined ? {} : { security: streamSecurity }),
      responses: {
        "200": {
          description: "an endless text/event-stream",
          content: { "text/event-stream": { schema: { type: "string" } } },
        },
        ...errorResponses(["BAD_REQUEST", ...v1Errors]),
      },
    },
  };
  paths["/v1/stream"] = {
    get: {
      operationId: "streamWebSocket",
      summary: "Live events over a WebSocket",
      description: WS_DESCRIPTION,
      tags: ["streams"],
      parameters: parameters(WsParams, "query"),
      ...(streamSecurity === undefined ? {} : { security: streamSecurity }),
      responses: {
        "101": { description: "switching to the WebSocket protocol" },
        ...errorResponses(["BAD_REQUEST", ...v1Errors]),
      },
    },
  };
  const plain = (operationId: string, summary: string, schema: JsonObject, type = "application/json") => ({
    get: {
      operationId,
      summary,
      tags: ["operations"],
      responses: { "200": { description: "OK", content: { [type]: { schema } } } },
    },
  });
  paths["/healthz"] = plain("health", "Liveness: 200 while the process runs", REF("Health"));
  paths["/readyz"] = {
    get: {
      ...plain("readiness", "Readiness: 200 when connected and not draining, else 503", REF("Readiness")).get,
      responses: {
        "200": { description: "ready", content: { "application/json": { schema: REF("Readiness") } } },
        "503": { description: "not ready", content: { "application/json": { schema: REF("Readiness") } } },
      },
    },
  };
  paths["/metrics"] = plain("metrics", "Prometheus metrics", { type: "string" }, "text/plain");
  paths["/openapi.json"] = plain("openapi", "This document", { type: "object" });

  return {
    openapi: "3.1.0",
    info: {
      title: "market-scraper gateway",
      version: options.version,
      description:
        "Market data history (from the storage service) and live streams (from the event bus). Errors are " +
        '`{ "error": { "code", "message" } }`. Times are ISO-8601; `start` is inclusive, `end` exclusive. ' +
        "List endpoints answer `{ data, next_cursor }`.",
    },
    tags: [
      { name: "history", description: "Stored events" },
      { name: "markets", description: "Per-symbol market data" },
      { name: "connectors", description: "Exchange connectors" },
      { name: "streams", description: "Live events" },
      { name: "operations", description: "Health, metrics and this document (no API key needed)" },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", description: "Authorization: Bearer <key>" },
        apiKeyHeader: { type: "apiKey", in: "header", name: "x-api-key" },
        apiKeyQuery: { type: "apiKey", in: "query", name: "api_key", description: "streams only" },
      },
    },
  };
}
