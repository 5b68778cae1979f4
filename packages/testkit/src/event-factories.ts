import { randomBytes } from "node:crypto";
import {
  EventType,
  StandardEvent,
  type ConnectorStatusEvent,
  type CreateEventInit,
  type CustomEvent,
  type DerivativeTickerEvent,
  type ErrorEvent,
  type HeartbeatEvent,
  type LiquidationEvent,
  type OhlcvEvent,
  type OrderBookEvent,
  type PayloadInput,
  type TickerEvent,
  type TradeEvent,
} from "@market-scraper/events";

/** Defaults of every factory: fixed, so expectations can be exact. Override `timestamp` for "now". */
export const DEFAULT_SOURCE = "test";
export const DEFAULT_SYMBOL = "BTC-USD";
export const DEFAULT_EVENT_TIME = "2024-01-15T10:30:00.000Z";
export const DEFAULT_PRICE = 50_000;

/** Envelope fields any factory accepts; absent ones get `StandardEvent.create`'s defaults. */
export interface EnvelopeOverrides {
  source?: string;
  /** Event time; for trades, tickers, books and candles also the payload's `timestamp`. */
  timestamp?: string | Date;
  event_id?: string;
  correlation_id?: string | null;
  parent_event_id?: string | null;
  priority?: number;
}

export interface MarketEventOverrides<T extends EventType> extends EnvelopeOverrides {
  symbol?: string;
  /** Merged over the defaults last, so it wins over `symbol` and `timestamp`. */
  payload?: Partial<PayloadInput<T>>;
}

export interface SystemEventOverrides<T extends EventType> extends EnvelopeOverrides {
  /** Merged over the defaults. */
  payload?: Partial<PayloadInput<T>>;
}

export type TradeOverrides = MarketEventOverrides<typeof EventType.TRADE>;
export type TickerOverrides = MarketEventOverrides<typeof EventType.TICKER>;
export type OrderBookOverrides = MarketEventOverrides<typeof EventType.ORDER_BOOK>;
export type OhlcvOverrides = MarketEventOverrides<typeof EventType.OHLCV>;
export type LiquidationOverrides = MarketEventOverrides<typeof EventType.LIQUIDATION>;
export type DerivativeTickerOverrides = MarketEventOverrides<typeof EventType.DERIVATIVE_TICKER>;
export type ErrorOverrides = SystemEventOverrides<typeof EventType.ERROR>;
export type HeartbeatOverrides = SystemEventOverrides<typeof EventType.HEARTBEAT>;
export type ConnectorStatusOverrides = SystemEventOverrides<typeof EventType.CONNECTOR_STATUS>;
export type CustomOverrides = SystemEventOverrides<typeof EventType.CUSTOM>;

// Trade ids are unique across test processes sharing a server (a run prefix) and ordered within one.
const RUN_ID = randomBytes(3).toString("hex");
let tradeSequence = 0;

/** A trade id no other call (in this or another test process) returns: `t-<run>-<n>`. */
export function nextTradeId(): string {
  tradeSequence += 1;
  return `t-${RUN_ID}-${tradeSequence}`;
}

function toIso(value: string | Date): string {
  return typeof value === "string" ? value : value.toISOString();
}

function build<T extends EventType>(
  eventType: T,
  overrides: EnvelopeOverrides,
  payload: PayloadInput<T>,
): StandardEvent<T> {
  const init: CreateEventInit<T> = {
    event_type: eventType,
    source: overrides.source ?? DEFAULT_SOURCE,
    payload,
    timestamp: toIso(overrides.timestamp ?? DEFAULT_EVENT_TIME),
    ...(overrides.event_id !== undefined ? { event_id: overrides.event_id } : {}),
    ...(overrides.correlation_id !== undefined ? { correlation_id: overrides.correlation_id } : {}),
    ...(overrides.parent_event_id !== undefined ? { parent_event_id: overrides.parent_event_id } : {}),
    ...(overrides.priority !== undefined ? { priority: overrides.priority } : {}),
  };
  // A payload override may move the market-data time; the envelope follows unless set explicitly.
  const payloadTime = (payload as { timestamp?: unknown }).timestamp;
  if (overrides.timestamp === undefined && typeof payloadTime === "string") init.timestamp = payloadTime;
  return StandardEvent.create(init);
}

export function makeTrade(overrides: TradeOverrides = {}): TradeEvent {
  return build(EventType.TRADE, overrides, {
    symbol: overrides.symbol ?? DEFAULT_SYMBOL,
    price: DEFAULT_PRICE,
    volume: 0.1,
    timestamp: toIso(overrides.timestamp ?? DEFAULT_EVENT_TIME),
    side: "buy",
    trade_id: nextTradeId(),
    ...overrides.payload,
  });
}

export function makeTicker(overrides: TickerOverrides = {}): TickerEvent {
  return build(EventType.TICKER, overrides, {
    symbol: overrides.symbol ?? DEFAULT_SYMBOL,
    price: DEFAULT_PRICE,
    volume: 1_234.5,
    bid: DEFAULT_PRICE - 0.5,
    ask: DEFAULT_PRICE + 0.5,
    bid_volume: 1.5,
    ask_volume: 2,
    timestamp: toIso(overrides.timestamp ?? DEFAULT_EVENT_TIME),
    ...overrides.payload,
  });
}

export function makeOrderBook(overrides: OrderBookOverrides = {}): OrderBookEvent {
  return build(EventType.ORDER_BOOK, overrides, {
    symbol: overrides.symbol ?? DEFAULT_SYMBOL,
    bid: DEFAULT_PRICE - 0.5,
    ask: DEFAULT_PRICE + 0.5,
    bid_volume: 1.5,
    ask_volume: 2,
    timestamp: toIso(overrides.timestamp ?? DEFAULT_EVENT_TIME),
    ...overrides.payload,
  });
}

/** A liquidated long (the forced order sells), on a perpetual. */
export function makeLiquidation(overrides: LiquidationOverrides = {}): LiquidationEvent {
  return build(EventType.LIQUIDATION, overrides, {
    symbol: overrides.symbol ?? DEFAULT_SYMBOL,
    side: "sell",
    price: DEFAULT_PRICE - 250,
    volume: 0.75,
    timestamp: toIso(overrides.timestamp ?? DEFAULT_EVENT_TIME),
    instrument: "perp",
    ...overrides.payload,
  });
}

/** Funding, next funding time (the next 8-hour boundary), mark, index and open interest of a perpetual. */
export function makeDerivativeTicker(overrides: DerivativeTickerOverrides = {}): DerivativeTickerEvent {
  const timeMs = Date.parse(toIso(overrides.timestamp ?? DEFAULT_EVENT_TIME));
  const eightHours = 8 * 3_600_000;
  return build(EventType.DERIVATIVE_TICKER, overrides, {
    symbol: overrides.symbol ?? DEFAULT_SYMBOL,
    timestamp: toIso(overrides.timestamp ?? DEFAULT_EVENT_TIME),
    funding_rate: 0.0001,
    next_funding_time: new Date((Math.floor(timeMs / eightHours) + 1) * eightHours).toISOString(),
    mark_price: DEFAULT_PRICE + 1.5,
    index_price: DEFAULT_PRICE + 2,
    open_interest: 12_345.5,
    instrument: "perp",
    ...overrides.payload,
  });
}

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Length of an interval such as `5m` in ms; undefined for months (`1M`), which have no fixed length. */
export function intervalMs(interval: string): number | undefined {
  const match = /^([1-9][0-9]*)([smhdw])$/.exec(interval);
  const unit = match?.[2] === undefined ? undefined : UNIT_MS[match[2]];
  return match?.[1] === undefined || unit === undefined ? undefined : Number(match[1]) * unit;
}

/**
 * A closed candle. Without an explicit `payload.timestamp` the bucket open time is `timestamp` (or the
 * default time) floored to the interval, aligned to the Unix epoch as the contract requires.
 */
export function makeOhlcv(overrides: OhlcvOverrides = {}): OhlcvEvent {
  const interval = overrides.payload?.interval ?? "1m";
  const size = intervalMs(interval);
  const timeMs = Date.parse(toIso(overrides.timestamp ?? DEFAULT_EVENT_TIME));
  const bucketStart = new Date(size === undefined ? timeMs : Math.floor(timeMs / size) * size).toISOString();
  return build(
    EventType.OHLCV,
    { ...overrides, timestamp: overrides.payload?.timestamp ?? bucketStart },
    {
      symbol: overrides.symbol ?? DEFAULT_SYMBOL,
      open: DEFAULT_PRICE,
      high: DEFAULT_PRICE + 100,
      low: DEFAULT_PRICE - 100,
      close: DEFAULT_PRICE + 50,
      volume: 12.5,
      timestamp: bucketStart,
      interval,
      trades: 42,
      closed: true,
      ...overrides.payload,
    },
  );
}

export function makeError(overrides: ErrorOverrides = {}): ErrorEvent {
  return build(EventType.ERROR, overrides, {
    error_code: "TEST_ERROR",
    message: "test error",
    details: {},
    ...overrides.payload,
  });
}

export function makeHeartbeat(overrides: HeartbeatOverrides = {}): HeartbeatEvent {
  const service = overrides.source ?? DEFAULT_SOURCE;
  return build(EventType.HEARTBEAT, overrides, {
    service,
    instance: `${service}-1`,
    uptime_s: 60,
    status: "healthy",
    ...overrides.payload,
  });
}

export function makeConnectorStatus(overrides: ConnectorStatusOverrides = {}): ConnectorStatusEvent {
  return build(EventType.CONNECTOR_STATUS, overrides, {
    connector: overrides.source ?? DEFAULT_SOURCE,
    status: "connected",
    previous_status: "connecting",
    symbols: [DEFAULT_SYMBOL],
    ...overrides.payload,
  });
}

export function makeCustom(overrides: CustomOverrides = {}): CustomEvent {
  return build(EventType.CUSTOM, overrides, {
    name: "test-event",
    data: { value: 1 },
    ...overrides.payload,
  });
}

export interface MakeTradesOptions {
  source?: string;
  symbol?: string;
  /** Time of the first trade (epoch ms). Default {@link DEFAULT_EVENT_TIME}. */
  startMs?: number;
  /** Time between two trades. Default 1 000 ms. */
  stepMs?: number;
  /** Prices move around this value in steps of 0.5, always the same way. Default 50 000. */
  basePrice?: number;
}

/**
 * `n` trades with distinct `trade_id`s and timestamps `startMs + i * stepMs`, with prices, volumes and
 * sides that vary deterministically (the same sequence on every run).
 */
export function makeTrades(n: number, options: MakeTradesOptions = {}): TradeEvent[] {
  const startMs = options.startMs ?? Date.parse(DEFAULT_EVENT_TIME);
  const stepMs = options.stepMs ?? 1_000;
  const basePrice = options.basePrice ?? DEFAULT_PRICE;
  return Array.from({ length: n }, (_, i) =>
    makeTrade({
      ...(options.source !== undefined ? { source: options.source } : {}),
      ...(options.symbol !== undefined ? { symbol: options.symbol } : {}),
      timestamp: new Date(startMs + i * stepMs),
      payload: {
        price: basePrice + (((i * 8) % 21) - 10) * 0.5,
        volume: Math.round((0.1 + (i % 5) * 0.05) * 1_000) / 1_000,
        side: i % 2 === 0 ? "buy" : "sell",
      },
    }),
  );
}
