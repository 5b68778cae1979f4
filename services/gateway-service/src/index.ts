export { gatewayEnv, parseApiKeys, type ApiKey, type GatewayConfig } from "./config.js";
export {
  GATEWAY_VERSION,
  LIVE_FILTER,
  createGatewayService,
  type GatewayService,
  type GatewayServiceConfig,
  type GatewayServiceDeps,
} from "./service.js";
export {
  EndpointStorageClient,
  StorageClientError,
  type StorageClient,
  type StorageClientErrorCode,
  type StorageEndpoint,
} from "./storage/storage-client.js";
export { NatsStorageClient, type NatsStorageClientOptions } from "./storage/nats-storage-client.js";
export { API_ROUTES, type ApiRoute } from "./http/api-routes.js";
export {
  ConnectorStatusEntry,
  ConnectorsResponse,
  ErrorResponse,
  EventPageResponse,
  EventResponse,
  MarketSummary,
  MarketsResponse,
  normalizeTime,
} from "./http/api-schemas.js";
export {
  ERROR_CODES,
  ERROR_STATUS,
  GatewayError,
  type ErrorBody,
  type GatewayErrorCode,
} from "./http/gateway-error.js";
export { buildOpenApiDocument, type OpenApiOptions } from "./http/openapi.js";
export { parseClientMessage, type SubscriptionView } from "./stream/ws-protocol.js";
export { LocalStorageClient, type StorageQueryRunner } from "./storage/local-storage-client.js";
export { toGatewayError } from "./http/error-mapping.js";
