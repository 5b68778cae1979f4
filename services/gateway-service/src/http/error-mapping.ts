import type { FastifyError } from "fastify";
import { StorageClientError } from "../storage/storage-client.js";
import { GatewayError, type GatewayErrorCode } from "./gateway-error.js";

/** Fastify's own 4xx errors (body too large, bad content type…) in the gateway's codes. */
const FASTIFY_STATUS_CODES: Readonly<Record<number, GatewayErrorCode>> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  408: "REQUEST_TIMEOUT",
  413: "PAYLOAD_TOO_LARGE",
  414: "URI_TOO_LONG",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RATE_LIMITED",
  431: "HEADERS_TOO_LARGE",
  503: "UNAVAILABLE",
};

/** Maps anything thrown in a request to the gateway's closed set of errors (never a stack trace). */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof StorageClientError) {
    switch (error.code) {
      case "BAD_REQUEST":
        return new GatewayError("BAD_REQUEST", error.message, { cause: error });
      case "NOT_FOUND":
        return new GatewayError("NOT_FOUND", error.message, { cause: error });
      case "UNAVAILABLE":
      case "TIMEOUT":
      case "NO_RESPONDERS":
      case "DISCONNECTED":
        return new GatewayError("STORAGE_UNAVAILABLE", `storage is unavailable: ${error.message}`, {
          cause: error,
          headers: { "retry-after": "1" },
        });
      case "INTERNAL":
      case "BAD_REPLY":
        return new GatewayError("STORAGE_ERROR", "storage failed to answer the query", { cause: error });
    }
  }
  const statusCode = (error as Partial<FastifyError> | undefined)?.statusCode;
  if (typeof statusCode === "number" && statusCode < 500) {
    const code = FASTIFY_STATUS_CODES[statusCode] ?? "BAD_REQUEST";
    const message = error instanceof Error ? error.message : "bad request";
    return new GatewayError(code, message, { cause: error });
  }
  return new GatewayError("INTERNAL", "internal error", { cause: error });
}
