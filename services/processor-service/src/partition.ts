import { MarketScraperError } from "@market-scraper/events";

/** `PROCESSOR_PARTITION=i/n`: this replica owns the (source, symbol) keys that hash to `i` of `n`. */
export interface Partition {
  readonly index: number;
  readonly count: number;
}

export const SINGLE_PARTITION: Partition = Object.freeze({ index: 0, count: 1 });

/** A `PROCESSOR_PARTITION` that is not `i/n` with 0 ≤ i < n ≤ 1024. */
export class PartitionError extends MarketScraperError<"INVALID_PARTITION"> {
  override readonly name = "PartitionError";

  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_PARTITION", message, options);
  }
}

/** Parses `i/n` with 0 ≤ i < n. Throws `PartitionError`. */
export function parsePartition(text: string): Partition {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new PartitionError(`expected i/n (e.g. 0/2), got '${text}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 1024) throw new PartitionError(`partition count must be 1..1024, got ${count}`);
  if (index >= count) throw new PartitionError(`partition index must be below ${count}, got ${index}`);
  return { index, count };
}

/**
 * FNV-1a (32-bit) of `source \0 symbol`: stable across processes, versions and platforms, so every
 * replica agrees on the owner of a symbol without talking to the others.
 */
export function partitionKeyHash(source: string, symbol: string): number {
  let h = 0x811c9dc5;
  const text = `${source}\u0000${symbol}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function partitionOf(source: string, symbol: string, count: number): number {
  return count === 1 ? 0 : partitionKeyHash(source, symbol) % count;
}

export function ownsKey(partition: Partition, source: string, symbol: string): boolean {
  return partitionOf(source, symbol, partition.count) === partition.index;
}

export function partitionName(partition: Partition): string {
  return `p${partition.index}of${partition.count}`;
}
