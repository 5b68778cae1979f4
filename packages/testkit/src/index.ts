export {
  startNats,
  currentNatsServer,
  NATS_IMAGE,
  type NatsServerHandle,
  type NatsServerOptions,
} from "./nats-server.js";
export {
  startPostgres,
  LOCAL_POSTGRES,
  POSTGRES_IMAGE,
  TEST_DATABASE_PREFIX,
  type PostgresServerHandle,
  type PostgresServerOptions,
} from "./postgres-server.js";
export {
  startRedis,
  redisAnswersPing,
  LOCAL_REDIS_URL,
  REDIS_IMAGE,
  type RedisServerHandle,
  type RedisServerOptions,
} from "./redis-server.js";
export type { ServerKind } from "./server-kind.js";
export { freePort } from "./free-port.js";
export { findBinary, currentNatsBinaries, SYSTEM_BINARY_DIRS } from "./find-binary.js";
export { waitFor, type WaitForOptions } from "./wait-for.js";
export { TestkitError, type TestkitErrorCode } from "./testkit-error.js";
export {
  DEFAULT_EVENT_TIME,
  DEFAULT_PRICE,
  DEFAULT_SOURCE,
  DEFAULT_SYMBOL,
  intervalMs,
  makeConnectorStatus,
  makeCustom,
  makeDerivativeTicker,
  makeError,
  makeHeartbeat,
  makeLiquidation,
  makeOhlcv,
  makeOrderBook,
  makeTicker,
  makeTrade,
  makeTrades,
  nextTradeId,
  type ConnectorStatusOverrides,
  type CustomOverrides,
  type DerivativeTickerOverrides,
  type EnvelopeOverrides,
  type ErrorOverrides,
  type HeartbeatOverrides,
  type LiquidationOverrides,
  type MakeTradesOptions,
  type MarketEventOverrides,
  type OhlcvOverrides,
  type OrderBookOverrides,
  type SystemEventOverrides,
  type TickerOverrides,
  type TradeOverrides,
} from "./event-factories.js";
export {
  FakeHyperliquidServer,
  type FakeHlCandle,
  type FakeHlLevel,
  type FakeHlRestRequest,
  type FakeHlSpotPair,
  type FakeHlSpotToken,
  type FakeHlSubscription,
  type FakeHlTrade,
  type FakeHyperliquidOptions,
} from "./fake-hyperliquid-server.js";
export { StreamClient, type Frame } from "./stream-client.js";
export {
  TrueBook,
  mulberry32,
  type BookOp,
  type Emission,
  type TrueBookFault,
  type TrueBookOptions,
  type TrueDelta,
  type TrueLevel,
  type TrueSnapshot,
} from "./true-book.js";
export {
  FakeBinanceServer,
  type FakeBinanceKind,
  type FakeBinanceKline,
  type FakeBinanceLevel,
  type FakeBinanceOptions,
  type FakeBinanceRestRequest,
  type FakeBinanceSymbol,
  type FakeBinanceTrade,
} from "./fake-binance-server.js";
export {
  FakeBybitServer,
  type FakeBybitCategory,
  type FakeBybitInstrument,
  type FakeBybitKline,
  type FakeBybitLevel,
  type FakeBybitLiquidation,
  type FakeBybitOptions,
  type FakeBybitRestFailure,
  type FakeBybitRestRequest,
  type FakeBybitTrade,
} from "./fake-bybit-server.js";
