/** The closed set of event kinds carried on the bus (ARCHITECTURE §3). */
export const EventType = {
  TRADE: "trade",
  TICKER: "ticker",
  ORDER_BOOK: "order_book",
  OHLCV: "ohlcv",
  LIQUIDATION: "liquidation",
  DERIVATIVE_TICKER: "derivative_ticker",
  CONNECTOR_STATUS: "connector_status",
  HEARTBEAT: "heartbeat",
  ERROR: "error",
  CUSTOM: "custom",
} as const;

export type EventType = (typeof EventType)[keyof typeof EventType];

export const EVENT_TYPES: readonly EventType[] = Object.freeze(Object.values(EventType));

/** Event types that carry a market symbol and travel on `market.…` / `processed.…`. */
export const MARKET_DATA_TYPES = Object.freeze([
  EventType.TRADE,
  EventType.TICKER,
  EventType.ORDER_BOOK,
  EventType.OHLCV,
  EventType.LIQUIDATION,
  EventType.DERIVATIVE_TICKER,
] as const);
export type MarketDataType = (typeof MARKET_DATA_TYPES)[number];

/** Event types that travel on `system.<type>.<source>`. */
export const SYSTEM_TYPES = Object.freeze([
  EventType.CONNECTOR_STATUS,
  EventType.HEARTBEAT,
  EventType.ERROR,
] as const);
export type SystemType = (typeof SYSTEM_TYPES)[number];

const eventTypeSet: ReadonlySet<string> = new Set(EVENT_TYPES);

export function isEventType(value: unknown): value is EventType {
  return typeof value === "string" && eventTypeSet.has(value);
}

export function isMarketDataType(type: EventType): type is MarketDataType {
  return (MARKET_DATA_TYPES as readonly EventType[]).includes(type);
}

export function isSystemType(type: EventType): type is SystemType {
  return (SYSTEM_TYPES as readonly EventType[]).includes(type);
}
