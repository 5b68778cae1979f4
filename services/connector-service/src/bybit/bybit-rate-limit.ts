import { parseRetryAfter } from "../framework/rest-client.js";

/** Bybit's IP ban after "403, access too frequent": "wait for at least 10 minutes" (exchanges.md §5.8). */
export const BYBIT_IP_BAN_MS = 10 * 60_000;

/**
 * Bybit's rate-limit signals (exchanges.md §5.8) for `RestClient.rateLimitOf`: HTTP 403 "access too
 * frequent" (hold `Retry-After`, else 10 minutes), `retCode` 10006 "Too many visits!" (hold until
 * `X-Bapi-Limit-Reset-Timestamp`), and a good answer whose `X-Bapi-Limit-Status` (requests left) is 0
 * (hold the next requests until the reset). HTTP 429 is handled by the client itself.
 */
export function bybitRateLimit(
  answer: { status: number; headers: Headers; text: string },
  now: number,
): { retry: boolean; holdMs: number | undefined } | undefined {
  const reset = Number(answer.headers.get("x-bapi-limit-reset-timestamp"));
  const untilReset = Number.isFinite(reset) && reset > now ? reset - now : undefined;
  if (answer.status === 403 && /access too frequent/i.test(answer.text)) {
    return {
      retry: true,
      holdMs: parseRetryAfter(answer.headers.get("retry-after"), now) ?? BYBIT_IP_BAN_MS,
    };
  }
  if (answer.status === 200 && /"retCode"\s*:\s*10006\b/.test(answer.text.slice(0, 64))) {
    return { retry: true, holdMs: untilReset };
  }
  if (answer.headers.get("x-bapi-limit-status") === "0" && untilReset !== undefined) {
    return { retry: false, holdMs: untilReset };
  }
  return undefined;
}
