import type { Logger } from "@market-scraper/runtime";
import { type ConnectorMetrics, noopConnectorMetrics } from "../framework/connector-metrics.js";
import { ConnectorError } from "../framework/connector-error.js";
import { OrderBookSync, bookStreamHash, orderBookEvent } from "../framework/order-book/index.js";
import { ReplayConnector, type ReplayConnectorOptions } from "../framework/replay-connector.js";
import { binanceSpotRules, binanceUsdmRules } from "./binance-book-rules.js";
import { BinanceFeed } from "./binance-feed.js";
import type { BinanceMarket, BinanceMarketKind } from "./binance-symbols.js";

/** True for the sources a Binance capture replays as (`binance`, `binance-usdm`). */
export function isBinanceSource(name: string): boolean {
  return name === "binance" || name === "binance-usdm";
}

function isMarket(value: unknown): value is BinanceMarket {
  const m = value as Partial<BinanceMarket> | null;
  return (
    typeof m === "object" &&
    m !== null &&
    typeof m.rawSymbol === "string" &&
    typeof m.symbol === "string" &&
    typeof m.base === "string" &&
    typeof m.quote === "string"
  );
}

export type BinanceReplayOptions = Omit<ReplayConnectorOptions, "createHandler" | "name"> & {
  /** `binance` (spot capture) or `binance-usdm`; the `source` of the replayed events. */
  name: string;
  metrics?: ConnectorMetrics;
  dedupCapacity?: number;
  /** Levels per side of `order_book` events; default 20. */
  bookDepth?: number;
};

/**
 * A `ReplayConnector` for Binance captures: frames go through the live connector's `BinanceFeed`, and the
 * REST depth snapshots the live connector wrote into the capture (generated `@depthSnapshot` frames)
 * rebuild each order book with the same sequencing rules, so the books come out as they did live. Every
 * book state is published (no conflation: a replay has no wall clock to conflate on).
 */
export function createBinanceReplay(options: BinanceReplayOptions): ReplayConnector {
  const name = options.name;
  const kind: BinanceMarketKind = name === "binance-usdm" ? "usdm" : "spot";
  const metrics = options.metrics ?? noopConnectorMetrics;
  const logger: Logger = options.logger.child({ component: "binance-replay" });
  return new ReplayConnector({
    ...options,
    name,
    createHandler: (markets, io) => {
      if (!markets.every(isMarket))
        throw new ConnectorError("PARSE_ERROR", "capture markets record is malformed");
      const books = new Map<string, OrderBookSync>();
      const bookOf = (raw: string): OrderBookSync | undefined => {
        let book = books.get(raw);
        const market = markets.find((m) => m.rawSymbol === raw);
        if (book !== undefined || market === undefined) return book;
        const streamHash = bookStreamHash(name, raw);
        book = new OrderBookSync({
          source: name,
          symbol: market.symbol,
          rawSymbol: raw,
          rules: kind === "spot" ? binanceSpotRules : binanceUsdmRules,
          depth: options.bookDepth ?? 20,
          intervalMs: 0,
          logger,
          metrics,
          publish: (published) => io.publish(orderBookEvent(published, streamHash)),
          onResync: (reason, detail) =>
            io.error("BOOK_RESYNC", `order book ${market.symbol} resync (${reason}): ${detail}`, {
              symbol: market.symbol,
              raw_symbol: raw,
              reason,
              detail,
            }),
        });
        books.set(raw, book);
        return book;
      };
      return new BinanceFeed({
        source: name,
        kind,
        markets,
        metrics,
        ...(options.dedupCapacity === undefined ? {} : { dedupCapacity: options.dedupCapacity }),
        hooks: {
          publish: (event) => io.publish(event),
          error: (code, message, details) => io.error(code, message, details),
          delta: (raw, delta) => bookOf(raw)?.onDelta(delta),
          snapshot: (raw, snapshot) => bookOf(raw)?.onSnapshot(snapshot),
        },
      });
    },
  });
}
