/**
 * The order-book engine's contract with the exchange connectors: levels as the exchange's exact decimal
 * text, snapshots and deltas with the exchange's update ids, and the exchange's sequencing rules as a
 * pair of pure functions.
 */

/** `[price, size]` as the exchange's exact decimal text; a size that is numerically 0 deletes the level. */
export type Level = readonly [price: string, size: string];

/** A full book at one update id (Binance `lastUpdateId`, Bybit `u` of a `snapshot` message). */
export interface BookSnapshot {
  sequence: number;
  bids: readonly Level[];
  asks: readonly Level[];
  /** Exchange time (ms), when the exchange says. */
  exchangeTime?: number;
}

/** One incremental update of a book. */
export interface BookDelta {
  /** First update id in this event (Binance `U`). */
  first?: number;
  /** Last update id (Binance `u`, Bybit `u`). */
  last: number;
  /** The previous event's last id (Binance futures `pu`). */
  prev?: number;
  bids: readonly Level[];
  asks: readonly Level[];
  /** Exchange time (ms). */
  exchangeTime?: number;
}

/** What to do with a delta: skip it (already in the book), apply it, or resync (something is missing). */
export type SequenceVerdict = "drop" | "apply" | "gap";

/**
 * One exchange's (and market's) book sequencing rules; pure functions, unit-tested per exchange.
 * Binance spot, for example: after a snapshot drop `u <= lastUpdateId`, apply when
 * `U <= lastUpdateId + 1 <= u`, else gap; then apply when `U == previous u + 1`.
 */
export interface SequenceRules {
  /** The first delta after a snapshot (buffered or live): drop (older), apply, or gap (snapshot too old / too new). */
  firstAfterSnapshot(snapshot: BookSnapshot, delta: BookDelta): SequenceVerdict;
  /** Each next delta given the last applied one. */
  next(lastApplied: BookDelta, delta: BookDelta): SequenceVerdict;
  /**
   * Optional integrity check after a delta is applied (an exchange checksum): false = resync with
   * reason `checksum`.
   */
  verify?(book: BookView, delta: BookDelta): boolean;
}

/** Why a book is resynced (the `reason` of `BOOK_RESYNC` and of the resync metric). */
export type ResyncReason =
  "gap" | "checksum" | "crossed" | "stale" | "reconnect" | "snapshot_failed" | "invalid";

export const RESYNC_REASONS: readonly ResyncReason[] = [
  "gap",
  "checksum",
  "crossed",
  "stale",
  "reconnect",
  "snapshot_failed",
  "invalid",
];

/** Read access to a local book (best first). */
export interface BookView {
  readonly sequence: number;
  /** The best `n` bids, highest first, as the exchange's text. */
  topBids(n: number): Level[];
  /** The best `n` asks, lowest first, as the exchange's text. */
  topAsks(n: number): Level[];
  readonly bidCount: number;
  readonly askCount: number;
}

/** A validated book as the engine publishes it: top of book, the top `depth` levels and the sequence. */
export interface PublishedBook {
  source: string;
  symbol: string;
  rawSymbol: string;
  /** The exchange update id the book is at. */
  sequence: number;
  /** Exchange time of the last applied update (ms), or the engine's clock when the exchange sent none. */
  time: number;
  /** Best first, exact decimal text. */
  bids: Level[];
  asks: Level[];
  /** The same levels as numbers (the `order_book` payload's `PriceLevel` shape). */
  bidsNum: Array<[number, number]>;
  asksNum: Array<[number, number]>;
}
