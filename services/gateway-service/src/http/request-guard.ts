import type { ApiKeys, Caller } from "./api-keys.js";
import { presentedKey } from "./api-keys.js";
import { GatewayError } from "./gateway-error.js";
import type { RateLimitDecision, RateLimiter } from "./rate-limiter.js";

/** What the guard reads of a request. */
export interface GuardedRequest {
  readonly url: string;
  readonly ip: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query: unknown;
}

export interface RequestGuardOptions {
  readonly apiKeys: ApiKeys;
  readonly limiter: RateLimiter;
  readonly windowMs: number;
  /** Failed authentications (missing or wrong key) counted per client address; past the limit: 429. */
  readonly authFailures: RateLimiter;
  readonly authFailureWindowMs: number;
  /** Told of every failed authentication: `refused` (401/403) or `throttled` (429). */
  readonly onAuthFailure?: (outcome: "refused" | "throttled") => void;
  /** `ready`: serve `/v1`; otherwise 503, saying whether the gateway is stopping or starting. */
  readonly state: () => "ready" | "starting" | "stopping";
}

export function isV1(url: string): boolean {
  return url === "/v1" || url.startsWith("/v1/") || url.startsWith("/v1?");
}

/** The stream endpoints, which also take `?api_key=` (browsers cannot send headers there). */
export function isStream(url: string): boolean {
  const path = url.split("?", 1)[0] ?? "";
  return path === "/v1/stream" || path === "/v1/stream/sse";
}

/**
 * A failed authentication, counted against the client address (401/403). Once an address has used up its
 * failures, `guardRequest` refuses every key from it (valid ones too, so a guesser cannot tell a hit from
 * a miss) with 429 and `Retry-After` until the window ends. Other addresses are not affected.
 */
function authFailure(request: GuardedRequest, options: RequestGuardOptions, refusal: GatewayError): never {
  options.authFailures.take(`ip:${request.ip}`);
  options.onAuthFailure?.("refused");
  throw refusal;
}

function throttled(options: RequestGuardOptions, decision: RateLimitDecision): never {
  options.onAuthFailure?.("throttled");
  throw new GatewayError(
    "RATE_LIMITED",
    `too many failed authentications from this address (${decision.limit} per ` +
      `${options.authFailureWindowMs / 1000} s); retry in ${decision.resetSeconds} s`,
    { headers: { "retry-after": String(decision.resetSeconds) } },
  );
}

/**
 * The checks every `/v1` request passes, in order: ready (503), API key (401/403; 429 for any key from an
 * address past its failed-authentication limit), rate limit (429). The stream endpoints are not rate limited per request:
 * they have their own concurrent connection limits (`StreamHub`). Returns the caller and the
 * `RateLimit-*` headers for the answer; throws a `GatewayError` otherwise.
 */
export function guardRequest(
  request: GuardedRequest,
  options: RequestGuardOptions,
): { caller: Caller; headers: Record<string, string> } {
  const state = options.state();
  if (state !== "ready") {
    const message = state === "stopping" ? "the gateway is shutting down" : "the gateway is not ready yet";
    throw new GatewayError("UNAVAILABLE", message, { headers: { "retry-after": "1" } });
  }
  const query = request.query as Record<string, unknown> | undefined;
  const queryKey = isStream(request.url) && typeof query?.api_key === "string" ? query.api_key : undefined;
  const check = options.apiKeys.check(presentedKey(request.headers, queryKey));
  if (check.kind !== "open") {
    const standing = options.authFailures.peek(`ip:${request.ip}`);
    if (!standing.allowed) throttled(options, standing);
  }
  let caller: Caller;
  switch (check.kind) {
    case "missing":
      return authFailure(
        request,
        options,
        new GatewayError("UNAUTHORIZED", "an API key is required: Authorization: Bearer <key> or x-api-key", {
          headers: { "www-authenticate": 'Bearer realm="market-scraper"' },
        }),
      );
    case "invalid":
      return authFailure(request, options, new GatewayError("FORBIDDEN", "the API key is not valid"));
    case "open":
      caller = { id: `ip:${request.ip}`, rateLimit: null };
      break;
    case "ok":
      caller = check.caller;
      break;
  }
  if (isStream(request.url)) return { caller, headers: {} };
  const decision = options.limiter.take(caller.id, caller.rateLimit ?? undefined);
  const headers = {
    "ratelimit-limit": String(decision.limit),
    "ratelimit-remaining": String(decision.remaining),
    "ratelimit-reset": String(decision.resetSeconds),
  };
  if (!decision.allowed) {
    throw new GatewayError(
      "RATE_LIMITED",
      `rate limit of ${decision.limit} requests per ${options.windowMs / 1000} s exceeded`,
      { headers: { ...headers, "retry-after": String(decision.resetSeconds) } },
    );
  }
  return { caller, headers };
}
