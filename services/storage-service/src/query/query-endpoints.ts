import type { Logger, Service, ServiceMsg } from "@market-scraper/runtime";
import type { StorageMetrics } from "../metrics.js";
import {
  QUERY_ERROR_STATUS,
  QUERY_NAMES,
  QueryError,
  type QueryName,
  type StorageQueries,
} from "./storage-queries.js";

function decodeRequest(data: Uint8Array): unknown {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8").trim();
  if (text === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new QueryError("BAD_REQUEST", "request body is not JSON", { cause });
  }
}

/**
 * Adds `storage.events|latest|candles|markets|stats` to the micro service. Each answers JSON; a failure
 * answers `{ "error": { code, message } }` and sets the micro API's error headers.
 */
export function addQueryEndpoints(
  service: Service,
  queries: StorageQueries,
  deps: { logger: Logger; metrics: StorageMetrics },
): void {
  const log = deps.logger.child({ component: "queries" });
  const group = service.addGroup("storage");
  const answer = async (name: QueryName, msg: ServiceMsg): Promise<void> => {
    let result: Awaited<ReturnType<StorageQueries["handle"]>>;
    try {
      result = await queries.handle(name, decodeRequest(msg.data));
    } catch (err) {
      result = {
        ok: false,
        error: err instanceof QueryError ? err : new QueryError("INTERNAL", String(err)),
      };
    }
    if (result.ok) {
      deps.metrics.queries.inc({ endpoint: name, result: "ok" });
      msg.respond(Buffer.from(JSON.stringify(result.body), "utf8"));
      return;
    }
    const { code, message } = result.error;
    deps.metrics.queries.inc({ endpoint: name, result: code });
    if (code === "INTERNAL" || code === "UNAVAILABLE")
      log.warn({ err: result.error, endpoint: name }, "query failed");
    const body = Buffer.from(JSON.stringify({ error: { code, message } }), "utf8");
    msg.respondError(QUERY_ERROR_STATUS[code], message, body);
  };
  for (const name of QUERY_NAMES) {
    group.addEndpoint(name, {
      handler: (err, msg) => {
        if (err !== null) {
          log.error({ err, endpoint: name }, "endpoint subscription failed");
          return;
        }
        void answer(name, msg);
      },
      metadata: { description: `storage ${name} query (JSON, see @market-scraper/events storage-api)` },
    });
  }
}
