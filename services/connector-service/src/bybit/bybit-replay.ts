import { type ConnectorMetrics, noopConnectorMetrics } from "../framework/connector-metrics.js";
import { ConnectorError } from "../framework/connector-error.js";
import { bookStreamHash, orderBookEvent } from "../framework/order-book/order-book-event.js";
import { OrderBookSync } from "../framework/order-book/order-book-sync.js";
import { ReplayConnector, type ReplayConnectorOptions } from "../framework/replay-connector.js";
import { type Scheduler, systemScheduler } from "../framework/scheduler.js";
import { BybitFeed } from "./bybit-feed.js";
import { type BybitCategory, isBybitInstrument } from "./bybit-instruments.js";

export type BybitReplayOptions = Omit<ReplayConnectorOptions, "createHandler" | "name"> & {
  /** `bybit-spot` or `bybit-linear` (the `source` of the replayed events, as live). */
  name: string;
  category: BybitCategory;
  metrics?: ConnectorMetrics;
  dedupCapacity?: number;
  /** Book depth and conflation as the live connector had them (default 20 levels, every update). */
  bookDepth?: number;
  bookIntervalMs?: number;
};

/**
 * A `ReplayConnector` for Bybit captures: frames go through the live connector's `BybitFeed`, books
 * through the same `OrderBookSync` with Bybit's rules (a gap in a capture waits for its next snapshot).
 */
export function createBybitReplay(options: BybitReplayOptions): ReplayConnector {
  const { name, category } = options;
  const scheduler: Scheduler = options.scheduler ?? systemScheduler;
  return new ReplayConnector({
    ...options,
    createHandler: (markets, io) => {
      if (!markets.every(isBybitInstrument) || markets.some((m) => m.category !== category))
        throw new ConnectorError(
          "PARSE_ERROR",
          `capture markets record is not a list of ${name} instruments`,
        );
      const metrics = options.metrics ?? noopConnectorMetrics;
      return new BybitFeed({
        source: name,
        category,
        instruments: markets,
        metrics,
        ...(options.dedupCapacity === undefined ? {} : { dedupCapacity: options.dedupCapacity }),
        books: {
          rawSymbols: markets.map((m) => m.rawSymbol),
          depth: options.bookDepth ?? 20,
          intervalMs: options.bookIntervalMs ?? 0,
          create: (book) => {
            const hash = bookStreamHash(name, book.rawSymbol);
            return new OrderBookSync({
              ...book,
              source: name,
              scheduler,
              metrics,
              logger: options.logger,
              publish: (published) => io.publish(orderBookEvent(published, hash)),
              onResync: (reason, detail) =>
                io.error("BOOK_RESYNC", `order book ${book.symbol} resync (${reason}): ${detail}`, {
                  symbol: book.symbol,
                  raw_symbol: book.rawSymbol,
                  reason,
                  detail,
                }),
            });
          },
        },
        hooks: {
          publish: (event) => io.publish(event),
          error: (code, message, details) => io.error(code, message, details),
        },
      });
    },
  });
}
