/**
 * - `UNAVAILABLE`: the database cannot be reached or is overloaded; retry later.
 * - `REJECTED`: the database refused these rows (a data error); retrying will not help.
 * - `BAD_CURSOR`: a query cursor that this store did not produce.
 * - `INTERNAL`: anything else.
 */
export type StoreErrorCode = "UNAVAILABLE" | "REJECTED" | "BAD_CURSOR" | "INTERNAL";

export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
