import { MarketScraperError } from "@market-scraper/events";

/**
 * The closed set of error codes the gateway answers with, and their HTTP status (one table, used by
 * every route, hook and the OpenAPI document). Bodies are always `{ "error": { "code", "message" } }`.
 */
export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UPGRADE_REQUIRED: 426,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  STORAGE_ERROR: 502,
  UNAVAILABLE: 503,
  STORAGE_UNAVAILABLE: 503,
} as const;

export type GatewayErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as GatewayErrorCode[];

export interface ErrorBody {
  error: { code: GatewayErrorCode; message: string };
}

export class GatewayError extends MarketScraperError<GatewayErrorCode> {
  override readonly name = "GatewayError";
  /** Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: GatewayErrorCode,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(code, message, options);
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message);
  }
}

export function errorBody(code: GatewayErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}
