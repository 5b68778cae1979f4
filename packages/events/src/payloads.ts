import { z } from "zod";
import { EventType } from "./event-type.js";

/** The form every timestamp is emitted in: UTC with a `Z` suffix, any sub-second precision. */
export const UtcIsoTimestamp = z.iso.datetime();

const WITH_OFFSET = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?([+-]\d\d:\d\d)$/;

/**
 * `2024-01-15T12:30:00.123456+02:00` → `2024-01-15T10:30:00.123456Z`: the same instant in UTC, the
 * sub-second digits kept as written. A `Z` timestamp is returned as it is.
 */
export function toUtcIso(value: string): string {
  if (value.charCodeAt(value.length - 1) === 0x5a /* Z */) return value;
  const m = WITH_OFFSET.exec(value);
  if (m === null) return value;
  // zod runs this on values its format check refused as well: never throw.
  const ms = Date.parse(`${m[1]!}${m[3]!}`);
  if (!Number.isFinite(ms)) return value;
  const utc = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  // Outside years 0000-9999 in UTC (only from the first or last hours of that range) there is no
  // such ISO form: the value stays as it is, and storage refuses it as a row it cannot index.
  return utc.length === 24 ? `${utc.slice(0, 19)}${m[2] ?? ""}Z` : value;
}

/**
 * ISO-8601 timestamp: any UTC offset is accepted on input (`+00:00`, `-05:30`), and the parsed value is
 * always UTC with a `Z` suffix, sub-second digits as given.
 */
export const IsoTimestamp = z.iso
  .datetime({ offset: true })
  .overwrite(toUtcIso)
  .describe("ISO-8601 timestamp, e.g. 2024-01-15T10:30:00Z; an offset (+02:00) is converted to Z");

/** A normalized market symbol, `BASE-QUOTE` by convention (e.g. `BTC-USD`). */
export const MarketSymbol = z
  .string()
  .min(1)
  .max(128)
  .describe("normalized symbol, BASE-QUOTE (e.g. BTC-USD)");

const price = z.number().describe("price, a finite JSON number");
const quantity = z.number().describe("quantity in base units, a finite JSON number");

/** One depth level: `[price, size]`. */
export const PriceLevel = z.tuple([z.number(), z.number()]).describe("[price, size]");

const marketCommon = {
  symbol: MarketSymbol,
  raw_symbol: z.string().min(1).optional().describe("the exchange's own name for the instrument"),
  received_at: IsoTimestamp.optional().describe("when the connector received the exchange frame"),
  replayed_at: IsoTimestamp.optional().describe(
    "when a replay played the frame (received_at stays the capture's receive time): processing starts here",
  ),
};

export const TradePayload = z
  .looseObject({
    ...marketCommon,
    price,
    volume: quantity,
    timestamp: IsoTimestamp.describe("exchange time of the trade"),
    side: z.enum(["buy", "sell"]).optional().describe("taker side"),
    trade_id: z.string().min(1).optional().describe("the exchange's trade id; de-duplication uses it"),
  })
  .describe("A single trade");

export const TickerPayload = z
  .looseObject({
    ...marketCommon,
    price: price.describe("last or mark price"),
    volume: quantity.describe("24h volume in base units"),
    bid: price.describe("best bid price"),
    ask: price.describe("best ask price"),
    timestamp: IsoTimestamp.optional(),
    bid_volume: quantity.optional(),
    ask_volume: quantity.optional(),
    mark_price: price.optional(),
    mid_price: price.optional(),
    index_price: price.optional(),
    open_interest: quantity.optional(),
    funding_rate: z.number().optional(),
    volume_quote_24h: z.number().optional().describe("24h volume in quote currency"),
    prev_day_price: price.optional(),
  })
  .describe("Ticker: last/mark price, 24h volume and best bid/ask");

export const OrderBookPayload = z
  .looseObject({
    ...marketCommon,
    bid: price.describe("best bid price"),
    ask: price.describe("best ask price"),
    bid_volume: quantity.describe("size at the best bid"),
    ask_volume: quantity.describe("size at the best ask"),
    timestamp: IsoTimestamp.optional(),
    bids: z
      .array(PriceLevel)
      .optional()
      .describe(
        "bid depth, best (highest price) first: the top `depth` levels of the local book, no zero sizes; " +
          "bids[0] is [bid, bid_volume]",
      ),
    asks: z
      .array(PriceLevel)
      .optional()
      .describe(
        "ask depth, best (lowest price) first: the top `depth` levels of the local book, no zero sizes; " +
          "asks[0] is [ask, ask_volume]",
      ),
    depth: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("levels per side the publisher keeps (<NAME>_BOOK_DEPTH); a side may hold fewer"),
    sequence: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        "the exchange's sequence of the last update applied to this book (Binance u / lastUpdateId, " +
          "Bybit u): books of one (source, symbol) with a higher sequence are newer",
      ),
    spread: z.number().optional().describe("ask - bid (added by the top-of-book processor)"),
    mid: z.number().optional().describe("(bid + ask) / 2 (added by the top-of-book processor)"),
    imbalance: z.number().optional().describe("(bid_volume - ask_volume) / (bid_volume + ask_volume)"),
  })
  .describe("Order book snapshot: top of book, optional depth");

/** Candle interval names: a count and a unit (s, m, h, d, w, M). */
export const Interval = z
  .string()
  .regex(/^[1-9][0-9]*[smhdwM]$/, "expected an interval such as 1m, 5m, 1h, 1d")
  .describe("bucket size, e.g. 1m, 5m, 1h, 1d");

export const OhlcvPayload = z
  .looseObject({
    ...marketCommon,
    open: price,
    high: price,
    low: price,
    close: price,
    volume: quantity,
    timestamp: IsoTimestamp.describe("bucket open time (UTC, aligned to the Unix epoch)"),
    interval: Interval.optional(),
    trades: z.number().int().nonnegative().optional().describe("number of trades in the bucket"),
    closed: z.boolean().optional().describe("false for a partial update of a bucket still open"),
  })
  .describe("OHLCV candle");

/** Instrument of a market payload, when it says (ARCHITECTURE §3): `expiry` goes with `future`. */
export const Instrument = z.enum(["spot", "perp", "future"]).describe("spot, perp (perpetual) or future");

const derivativeCommon = {
  instrument: Instrument.optional(),
  expiry: IsoTimestamp.optional().describe("expiry of a dated future"),
};

export const LiquidationPayload = z
  .looseObject({
    ...marketCommon,
    ...derivativeCommon,
    side: z
      .enum(["buy", "sell"])
      .describe("side of the liquidated (forced) order: sell = a long position was liquidated"),
    price: price.describe(
      "price of the liquidation (the exchange's average fill or bankruptcy price: see the connector)",
    ),
    volume: quantity.describe("liquidated quantity in base units"),
    timestamp: IsoTimestamp.describe("exchange time of the liquidation"),
    liquidation_id: z
      .string()
      .min(1)
      .optional()
      .describe("the exchange's id of the liquidation, when it sends one"),
    raw_side: z
      .string()
      .min(1)
      .optional()
      .describe("the side as the exchange sent it (Bybit's S names the position side, not the order's)"),
  })
  .describe("A forced liquidation of a derivatives position");

/** The fields of which a `derivative_ticker` must carry at least one (ARCHITECTURE §3). */
export const DERIVATIVE_TICKER_FIELDS = Object.freeze([
  "funding_rate",
  "next_funding_time",
  "predicted_funding_rate",
  "mark_price",
  "index_price",
  "open_interest",
] as const);

export const DerivativeTickerPayload = z
  .looseObject({
    ...marketCommon,
    ...derivativeCommon,
    timestamp: IsoTimestamp.describe("exchange time of the values"),
    funding_rate: z
      .number()
      .optional()
      .describe("funding rate of the current period, settled at next_funding_time (0.0001 = 0.01%)"),
    next_funding_time: IsoTimestamp.optional().describe("when the next funding is settled"),
    predicted_funding_rate: z
      .number()
      .optional()
      .describe("the exchange's estimate of the following period's rate, when it publishes one"),
    mark_price: price.optional(),
    index_price: price.optional(),
    open_interest: quantity.optional().describe("open interest in base units (one side)"),
    open_interest_value: z
      .number()
      .optional()
      .describe("open interest in quote currency, when the exchange sends it (Bybit openInterestValue)"),
  })
  .refine((p) => DERIVATIVE_TICKER_FIELDS.some((field) => p[field] !== undefined), {
    message: `expected at least one of ${DERIVATIVE_TICKER_FIELDS.join(", ")}`,
  })
  .describe(
    "Derivatives state of a perpetual or future: funding, mark and index prices, open interest " +
      "(at least one of them)",
  );

export const ErrorPayload = z
  .looseObject({
    error_code: z.string().min(1).describe("machine-readable code, e.g. RATE_LIMIT, PARSE_ERROR"),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
  })
  .describe("An error report");

export const ConnectorState = z.enum([
  "connecting",
  "connected",
  "subscribed",
  "stale",
  "reconnecting",
  "disconnected",
  "stopped",
]);
export type ConnectorState = z.infer<typeof ConnectorState>;

export const ConnectorStatusPayload = z
  .looseObject({
    connector: z.string().min(1),
    status: ConnectorState,
    previous_status: ConnectorState.optional(),
    message: z.string().optional(),
    channel: z.string().optional(),
    symbols: z.array(z.string()).optional(),
    attempt: z.number().int().nonnegative().optional().describe("reconnect attempt number"),
    last_error: z
      .string()
      .optional()
      .describe(
        "the last error the connector reported, `CODE: message` (e.g. the cause of a failed request)",
      ),
    last_error_at: IsoTimestamp.optional().describe("when the last error happened"),
  })
  .describe("A connector state change");

export const HeartbeatPayload = z
  .looseObject({
    service: z.string().min(1),
    instance: z.string().min(1),
    uptime_s: z.number().nonnegative(),
    status: z.enum(["healthy", "degraded", "unhealthy"]).optional(),
    version: z.string().optional(),
  })
  .describe("Periodic liveness signal of a service instance");

export const CustomPayload = z
  .looseObject({
    name: z.string().min(1).describe("event name; the last token of custom.<source>.<name>"),
    data: z.unknown().optional(),
  })
  .describe("User-defined event");

export const PayloadSchemas = {
  [EventType.TRADE]: TradePayload,
  [EventType.TICKER]: TickerPayload,
  [EventType.ORDER_BOOK]: OrderBookPayload,
  [EventType.OHLCV]: OhlcvPayload,
  [EventType.LIQUIDATION]: LiquidationPayload,
  [EventType.DERIVATIVE_TICKER]: DerivativeTickerPayload,
  [EventType.CONNECTOR_STATUS]: ConnectorStatusPayload,
  [EventType.HEARTBEAT]: HeartbeatPayload,
  [EventType.ERROR]: ErrorPayload,
  [EventType.CUSTOM]: CustomPayload,
} as const;
export type PayloadSchemas = typeof PayloadSchemas;

export type TradePayload = z.infer<typeof TradePayload>;
export type TickerPayload = z.infer<typeof TickerPayload>;
export type OrderBookPayload = z.infer<typeof OrderBookPayload>;
export type OhlcvPayload = z.infer<typeof OhlcvPayload>;
export type LiquidationPayload = z.infer<typeof LiquidationPayload>;
export type DerivativeTickerPayload = z.infer<typeof DerivativeTickerPayload>;
export type Instrument = z.infer<typeof Instrument>;
export type ErrorPayload = z.infer<typeof ErrorPayload>;
export type ConnectorStatusPayload = z.infer<typeof ConnectorStatusPayload>;
export type HeartbeatPayload = z.infer<typeof HeartbeatPayload>;
export type CustomPayload = z.infer<typeof CustomPayload>;

export type PayloadOf<T extends EventType> = z.infer<PayloadSchemas[T]>;
export type PayloadInput<T extends EventType> = z.input<PayloadSchemas[T]>;
