export {
  assertReplayFileReadable,
  connectorEnv,
  connectorEnvOnDisk,
  CONNECTOR_NAMES,
  replayFileProblem,
  shardSymbols,
  type ConnectorConfig,
  type ConnectorName,
  type Shard,
} from "./config.js";
export {
  CONNECTORS_HEALTH_CHECK,
  createConnectorService,
  type ConnectorService,
  type ConnectorServiceDeps,
} from "./service.js";
export {
  Connector,
  type ConnectorOrderBookOptions,
  type ConnectorHealth,
  type ConnectorOptions,
  type EventSink,
  type HealthStatus,
} from "./framework/connector.js";
export {
  ConnectorError,
  describeError,
  errorCode,
  type ConnectorErrorCode,
} from "./framework/connector-error.js";
export {
  createPromConnectorMetrics,
  noopConnectorMetrics,
  type ConnectorMetrics,
} from "./framework/connector-metrics.js";
export {
  ReconnectingWebSocket,
  type CloseCause,
  type ReconnectingWebSocketOptions,
  type WsCloseInfo,
  type WsListener,
} from "./framework/reconnecting-websocket.js";
export {
  RestClient,
  parseRetryAfter,
  type RateLimitedInfo,
  type RestClientOptions,
} from "./framework/rest-client.js";
export { WeightRateLimiter, type WeightRateLimiterOptions } from "./framework/weight-rate-limiter.js";
export { TradeDeduplicator } from "./framework/trade-deduplicator.js";
export { RawCaptureWriter, readCapture, type CaptureRecord } from "./framework/raw-capture.js";
export {
  ReplayConnector,
  type FrameHandler,
  type ReplayConnectorOptions,
  type ReplayProgress,
  type ReplayIo,
  type ReplayPace,
} from "./framework/replay-connector.js";
export {
  BookSide,
  LocalBook,
  OrderBookSync,
  RESYNC_REASONS,
  bookStreamHash,
  orderBookEvent,
  type BookDelta,
  type BookProblem,
  type BookSnapshot,
  type BookSyncState,
  type BookView,
  type Level,
  type OrderBookSyncOptions,
  type PublishedBook,
  type ResyncReason,
  type SequenceRules,
  type SequenceVerdict,
  type SnapshotLimiter,
} from "./framework/order-book/index.js";
export { ManualScheduler, systemScheduler, type Scheduler, type TimerHandle } from "./framework/scheduler.js";
export { deterministicEventId, fnv1a32, hashedEventId } from "./framework/event-ids.js";
export { IsoFormatter, decimalToNumber, integerToString } from "./framework/iso-time.js";
export {
  HYPERLIQUID_CHANNELS,
  HYPERLIQUID_DEFAULT_REST_URL,
  HYPERLIQUID_DEFAULT_WS_URL,
  HYPERLIQUID_INTERVALS,
  HyperliquidConnector,
  type HyperliquidChannel,
  type HyperliquidConnectorOptions,
} from "./hyperliquid/hyperliquid-connector.js";
export {
  HyperliquidFeed,
  subscriptionKey,
  type HyperliquidFeedHooks,
} from "./hyperliquid/hyperliquid-feed.js";
export {
  HyperliquidParser,
  type FrameResult,
  type HyperliquidParserOptions,
} from "./hyperliquid/hyperliquid-parser.js";
export {
  HyperliquidSymbols,
  marketsFromMeta,
  type HyperliquidMarket,
} from "./hyperliquid/hyperliquid-symbols.js";
export { createHyperliquidReplay, type HyperliquidReplayOptions } from "./hyperliquid/hyperliquid-replay.js";
export {
  BYBIT_CHANNELS,
  BYBIT_DEFAULT_REST_URL,
  BYBIT_DEFAULT_WS_URLS,
  BYBIT_LINEAR_CHANNELS,
  BYBIT_OHLCV_INTERVALS,
  BYBIT_SPOT_CHANNELS,
  BybitConnector,
  spreadTopics,
  type BybitChannel,
  type BybitConnectorOptions,
} from "./bybit/bybit-connector.js";
export { BybitFeed, bybitBookDepth, type BybitFeedHooks, type BybitFeedOptions } from "./bybit/bybit-feed.js";
export {
  BybitInstruments,
  instrumentsFromAnswer,
  type BybitCategory,
  type BybitInstrument,
} from "./bybit/bybit-instruments.js";
export { BYBIT_INTERVALS, BybitParser, type BybitFrameResult } from "./bybit/bybit-parser.js";
export { bybitRateLimit } from "./bybit/bybit-rate-limit.js";
export { createBybitReplay, type BybitReplayOptions } from "./bybit/bybit-replay.js";
export { bybitSequenceRules } from "./bybit/bybit-sequence-rules.js";
export {
  BINANCE_DEFAULTS,
  BINANCE_INTERVALS,
  BINANCE_SPOT_CHANNELS,
  BINANCE_USDM_CHANNELS,
  BinanceConnector,
  type BinanceChannel,
  type BinanceConnectorOptions,
} from "./binance/binance-connector.js";
export { BinanceFeed, type BinanceFeedHooks, type BinanceFeedOptions } from "./binance/binance-feed.js";
export {
  BinanceParser,
  parseDepthSnapshot,
  type BinanceFrameResult,
  type BinanceParserOptions,
} from "./binance/binance-parser.js";
export {
  BinanceSymbols,
  marketsFromExchangeInfo,
  type BinanceMarket,
  type BinanceMarketKind,
} from "./binance/binance-symbols.js";
export { createBinanceReplay, isBinanceSource, type BinanceReplayOptions } from "./binance/binance-replay.js";
export { binanceSpotRules, binanceUsdmRules } from "./binance/binance-book-rules.js";
