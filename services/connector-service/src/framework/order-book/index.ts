export { BookSide } from "./book-side.js";
export { LocalBook, type BookProblem } from "./local-book.js";
export { bookStreamHash, orderBookEvent } from "./order-book-event.js";
export {
  OrderBookSync,
  type BookSyncState,
  type OrderBookSyncOptions,
  type SnapshotLimiter,
} from "./order-book-sync.js";
export {
  RESYNC_REASONS,
  type BookDelta,
  type BookSnapshot,
  type BookView,
  type Level,
  type PublishedBook,
  type ResyncReason,
  type SequenceRules,
  type SequenceVerdict,
} from "./types.js";
