import { EventType, type OrderBookEvent, marketEvent } from "@market-scraper/events";
import { deterministicEventId, fnv1a32 } from "../event-ids.js";
import { IsoFormatter } from "../iso-time.js";
import type { PublishedBook } from "./types.js";

/** The stream hash of a book's event ids: FNV-1a of `source|rawSymbol|order_book`. */
export function bookStreamHash(source: string, rawSymbol: string): number {
  return fnv1a32(`${source}|${rawSymbol}|order_book`);
}

const sharedIso = new IsoFormatter();

/**
 * A published book → an `order_book` event: top of book, the depth levels (numbers, best first) and the
 * exchange `sequence`. The id is deterministic from (exchange time, stream, sequence): the same book
 * state published twice (a replay) is one record downstream.
 */
export function orderBookEvent(
  book: PublishedBook,
  streamHash: number = bookStreamHash(book.source, book.rawSymbol),
  iso: IsoFormatter = sharedIso,
): OrderBookEvent {
  const bestBid = book.bidsNum[0]!;
  const bestAsk = book.asksNum[0]!;
  const timestamp = iso.format(book.time);
  const eventId = deterministicEventId(book.time, streamHash, book.sequence);
  return marketEvent(EventType.ORDER_BOOK, eventId, timestamp, book.source, {
    symbol: book.symbol,
    raw_symbol: book.rawSymbol,
    bid: bestBid[0],
    ask: bestAsk[0],
    bid_volume: bestBid[1],
    ask_volume: bestAsk[1],
    timestamp,
    bids: book.bidsNum,
    asks: book.asksNum,
    sequence: book.sequence,
  });
}
