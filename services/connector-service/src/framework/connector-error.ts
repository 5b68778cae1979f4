/**
 * The closed set of error codes a connector reports (as `error` events and thrown errors):
 * - `RATE_LIMIT`: the exchange answered 429;
 * - `PARSE_ERROR`: a frame or answer that is not what the exchange documents (counted, skipped);
 * - `DISCONNECTED`: the connection dropped (it is re-established);
 * - `STALE`: no data for longer than allowed (the connection is replaced);
 * - `SUBSCRIBE_FAILED`: a subscription was refused or not acknowledged in time;
 * - `EXCHANGE_ERROR`: the exchange sent an error frame;
 * - `UNEXPECTED_FRAME`: a frame of a kind the exchange never sends (binary), dropped (counted);
 * - `INVALID_SYMBOL`: a configured symbol the exchange does not list (not subscribed);
 * - `REST_FAILED`: a REST request failed after its retries;
 * - `BACKFILL_FAILED`: missed candles could not be fetched.
 */
export type ConnectorErrorCode =
  | "RATE_LIMIT"
  | "PARSE_ERROR"
  | "DISCONNECTED"
  | "STALE"
  | "SUBSCRIBE_FAILED"
  | "EXCHANGE_ERROR"
  | "UNEXPECTED_FRAME"
  | "INVALID_SYMBOL"
  | "REST_FAILED"
  | "BACKFILL_FAILED";

export class ConnectorError extends Error {
  override readonly name = "ConnectorError";
  readonly code: ConnectorErrorCode;

  constructor(code: ConnectorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
