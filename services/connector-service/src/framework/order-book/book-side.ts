import type { Level } from "./types.js";

interface Entry {
  /** Sort key: the price for bids, minus the price for asks, so the best level has the largest key. */
  key: number;
  price: string;
  size: string;
  sizeNum: number;
}

/**
 * One side of an L2 book: levels keyed by price compared numerically (`"100.10"` and `"100.1"` are one
 * level) while the exchange's text is kept for output. Stored worst first, so the best levels sit at
 * the end of the array: most updates touch the top of the book, and an insert or delete there moves few
 * elements.
 */
export class BookSide {
  readonly #bids: boolean;
  #entries: Entry[] = [];

  constructor(side: "bids" | "asks") {
    this.#bids = side === "bids";
  }

  get size(): number {
    return this.#entries.length;
  }

  clear(): void {
    this.#entries = [];
  }

  /**
   * Sets a level; a size of 0 deletes it. Returns false (and changes nothing) when the price is not a
   * positive finite number or the size not a non-negative finite number.
   */
  set(price: string, size: string): boolean {
    const p = Number(price);
    const s = Number(size);
    if (!(p > 0 && p < Infinity && s >= 0 && s < Infinity) || price === "" || size === "") return false;
    const key = this.#bids ? p : -p;
    const entries = this.#entries;
    // Binary search for the first entry with entry.key >= key.
    let lo = 0;
    let hi = entries.length;
    // The top of the book is the common case: check the end before searching.
    if (hi > 0 && entries[hi - 1]!.key < key) lo = hi;
    else {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (entries[mid]!.key < key) lo = mid + 1;
        else hi = mid;
      }
    }
    const found = entries[lo];
    if (found !== undefined && found.key === key) {
      if (s === 0) entries.splice(lo, 1);
      else {
        found.price = price;
        found.size = size;
        found.sizeNum = s;
      }
    } else if (s !== 0) {
      const entry: Entry = { key, price, size, sizeNum: s };
      if (lo === entries.length) entries.push(entry);
      else entries.splice(lo, 0, entry);
    }
    return true;
  }

  /**
   * Replaces the side with `levels` (any order; a later level of the same price wins; zero sizes
   * dropped). Returns false, leaving the side empty, if a level is malformed.
   */
  load(levels: readonly Level[]): boolean {
    const byKey = new Map<number, Entry>();
    for (const [price, size] of levels) {
      const p = Number(price);
      const s = Number(size);
      if (!(p > 0 && p < Infinity && s >= 0 && s < Infinity) || price === "" || size === "") {
        this.#entries = [];
        return false;
      }
      const key = this.#bids ? p : -p;
      if (s === 0) byKey.delete(key);
      else byKey.set(key, { key, price, size, sizeNum: s });
    }
    this.#entries = [...byKey.values()].sort((a, b) => a.key - b.key);
    return true;
  }

  /** The best price as a number, or undefined when the side is empty. */
  bestPrice(): number | undefined {
    const last = this.#entries[this.#entries.length - 1];
    return last === undefined ? undefined : this.#bids ? last.key : -last.key;
  }

  /** The best `n` levels, best first, as text. */
  top(n: number): Level[] {
    const entries = this.#entries;
    const out: Level[] = [];
    for (let i = entries.length - 1; i >= 0 && out.length < n; i -= 1) {
      const e = entries[i]!;
      out.push([e.price, e.size]);
    }
    return out;
  }

  /** The best `n` levels, best first, as numbers. */
  topNumbers(n: number): Array<[number, number]> {
    const entries = this.#entries;
    const out: Array<[number, number]> = [];
    for (let i = entries.length - 1; i >= 0 && out.length < n; i -= 1) {
      const e = entries[i]!;
      out.push([this.#bids ? e.key : -e.key, e.sizeNum]);
    }
    return out;
  }
}
