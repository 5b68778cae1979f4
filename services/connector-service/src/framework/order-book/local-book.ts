import { BookSide } from "./book-side.js";
import type { BookView, Level } from "./types.js";

/** Why a book cannot be used: a malformed level, or a crossed book (best bid ≥ best ask). */
export type BookProblem = { kind: "invalid"; detail: string } | { kind: "crossed"; detail: string };

/** An L2 book: two sorted sides and the exchange update id it is at. */
export class LocalBook implements BookView {
  readonly bids = new BookSide("bids");
  readonly asks = new BookSide("asks");
  sequence = 0;

  get bidCount(): number {
    return this.bids.size;
  }

  get askCount(): number {
    return this.asks.size;
  }

  topBids(n: number): Level[] {
    return this.bids.top(n);
  }

  topAsks(n: number): Level[] {
    return this.asks.top(n);
  }

  clear(): void {
    this.bids.clear();
    this.asks.clear();
    this.sequence = 0;
  }

  /** Replaces the book; a problem leaves it empty. */
  load(sequence: number, bids: readonly Level[], asks: readonly Level[]): BookProblem | undefined {
    this.sequence = sequence;
    if (!this.bids.load(bids) || !this.asks.load(asks)) {
      this.clear();
      return { kind: "invalid", detail: `snapshot ${sequence} has a malformed level` };
    }
    return this.crossed();
  }

  /**
   * Applies the levels of one update. A malformed level stops it half-way (the book is then not to be
   * trusted: the caller resyncs).
   */
  apply(sequence: number, bids: readonly Level[], asks: readonly Level[]): BookProblem | undefined {
    for (let i = 0; i < bids.length; i += 1) {
      const level = bids[i]!;
      if (!this.bids.set(level[0], level[1]))
        return { kind: "invalid", detail: `update ${sequence}: malformed bid ${JSON.stringify(level)}` };
    }
    for (let i = 0; i < asks.length; i += 1) {
      const level = asks[i]!;
      if (!this.asks.set(level[0], level[1]))
        return { kind: "invalid", detail: `update ${sequence}: malformed ask ${JSON.stringify(level)}` };
    }
    this.sequence = sequence;
    return this.crossed();
  }

  /** A crossed book (best bid ≥ best ask), or undefined. */
  crossed(): BookProblem | undefined {
    const bid = this.bids.bestPrice();
    const ask = this.asks.bestPrice();
    if (bid !== undefined && ask !== undefined && bid >= ask)
      return {
        kind: "crossed",
        detail: `crossed book at ${this.sequence}: best bid ${bid} ≥ best ask ${ask}`,
      };
    return undefined;
  }
}
