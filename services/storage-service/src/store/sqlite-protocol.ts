import type { Store } from "./store.js";
import { StoreError, type StoreErrorCode } from "./store-error.js";

/** The `Store` methods a `ThreadedSqliteStore` forwards to its thread. */
export type StoreMethod = Exclude<keyof Store, "kind">;

export const STORE_METHODS: ReadonlySet<string> = new Set<StoreMethod>([
  "migrate",
  "insert",
  "page",
  "latest",
  "markets",
  "stats",
  "maintain",
  "applyRetention",
  "ping",
  "close",
]);

export interface SqliteRequest {
  readonly id: number;
  readonly method: StoreMethod;
  readonly args: readonly unknown[];
}

export interface SerializedError {
  readonly message: string;
  /** Set for a `StoreError`. */
  readonly code?: StoreErrorCode;
}

export type SqliteResponse =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof StoreError) return { message: err.message, code: err.code };
  return { message: err instanceof Error ? err.message : String(err) };
}

/** A `StoreError` again (same code and message), or an `INTERNAL` one for anything else. */
export function deserializeError(error: SerializedError): StoreError {
  return new StoreError(error.code ?? "INTERNAL", error.message);
}
