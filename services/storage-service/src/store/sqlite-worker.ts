/**
 * The thread of a `ThreadedSqliteStore`: one `SqliteStore`, driven by messages. Requests are served
 * one at a time in arrival order (better-sqlite3 is synchronous), so their effects are ordered as the
 * calls were made.
 */
import { parentPort, workerData } from "node:worker_threads";
import { SqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
import { type SqliteRequest, type SqliteResponse, STORE_METHODS, serializeError } from "./sqlite-protocol.js";

const port = parentPort;
if (port === null) throw new Error("sqlite-worker.js runs as a worker thread of ThreadedSqliteStore");

let store: SqliteStore | undefined;
let openError: unknown;
try {
  store = new SqliteStore(workerData as SqliteStoreOptions);
} catch (err) {
  openError = err;
}

port.on("message", (request: SqliteRequest) => {
  void serve(request).then((response) => {
    port.postMessage(response);
    if (request.method === "close") port.close();
  });
});

async function serve({ id, method, args }: SqliteRequest): Promise<SqliteResponse> {
  try {
    if (store === undefined) throw openError;
    if (!STORE_METHODS.has(method)) throw new TypeError(`not a store method: ${method}`);
    const call = (store[method] as (this: SqliteStore, ...a: unknown[]) => Promise<unknown>).bind(store);
    return { id, ok: true, value: await call(...args) };
  } catch (err) {
    return { id, ok: false, error: serializeError(err) };
  }
}
