import type { Logger } from "@market-scraper/runtime";
import type { EventRow } from "./event-row.js";
import { StoreError } from "./store-error.js";
import type { Store } from "./store.js";

/**
 * One multi-row insert; if the database refuses the batch (`REJECTED`), row by row, so one bad row
 * spoils nothing else. Returns the items that are stored (new or already there) and the rows inserted;
 * each refused item goes to `onRejected`. Errors other than `REJECTED` (the database is down) propagate.
 */
export async function insertIsolating<T>(
  store: Store,
  items: readonly T[],
  rowOf: (item: T) => EventRow,
  onRejected: (item: T, error: StoreError) => void | Promise<void>,
  log: Logger,
): Promise<{ stored: T[]; inserted: number }> {
  try {
    return { stored: [...items], inserted: await store.insert(items.map(rowOf)) };
  } catch (err) {
    if (!(err instanceof StoreError) || err.code !== "REJECTED") throw err;
    log.warn({ err, rows: items.length }, "batch rejected; inserting rows one by one");
  }
  const stored: T[] = [];
  let inserted = 0;
  for (const item of items) {
    try {
      inserted += await store.insert([rowOf(item)]);
      stored.push(item);
    } catch (err) {
      if (!(err instanceof StoreError) || err.code !== "REJECTED") throw err;
      await onRejected(item, err);
    }
  }
  return { stored, inserted };
}
