import { type BackoffOptions, backoffDelay } from "@market-scraper/bus";
import { ConnectorError, describeError } from "./connector-error.js";
import { type Scheduler, systemScheduler } from "./scheduler.js";
import { WeightRateLimiter } from "./weight-rate-limiter.js";

export interface RateLimitedInfo {
  status: number;
  /** How long requests are held, from `Retry-After` or the backoff. */
  retryAfterMs: number;
  attempt: number;
  url: string;
}

export interface RestClientOptions {
  baseUrl: string;
  /** Weight allowed per window (Hyperliquid: 1200/min). */
  weightPerWindow: number;
  windowMs?: number;
  scheduler?: Scheduler;
  random?: () => number;
  backoff?: BackoffOptions;
  /** Retries after a 429, a 5xx or a network error; default 5. */
  maxRetries?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Called on every 429 or 418 (the connector turns it into a `RATE_LIMIT` error event). */
  onRateLimited?: (info: RateLimitedInfo) => void;
  /**
   * The exchange's own rate-limit signals beyond 429/418 (Bybit: 403 "access too frequent", `retCode`
   * 10006 with `X-Bapi-Limit-Reset-Timestamp`, `X-Bapi-Limit-Status` 0), read from every answer below
   * 500: `{ retry: true }` = a refusal, counted and retried like a 429 after `holdMs` (else `Retry-After`,
   * else the backoff); `{ retry: false }` = a good answer after which requests are held for `holdMs`;
   * undefined = nothing to do. `text` is the body.
   */
  rateLimitOf?: (
    answer: { status: number; headers: Headers; text: string },
    now: number,
  ) => { retry: boolean; holdMs: number | undefined } | undefined;
}

/** Parses `Retry-After`: delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * JSON client (POST and GET) with a weight-based rate limiter: every request waits for its weight, a 429
 * or a 418 (Binance's ban) pauses every request for `Retry-After` (or an exponential backoff when the
 * header is missing) and is retried,
 * as are 5xx answers and network errors.
 */
export class RestClient {
  readonly #options: RestClientOptions;
  readonly #scheduler: Scheduler;
  readonly limiter: WeightRateLimiter;
  /** Requests answered 429 or 418 so far. */
  rateLimited = 0;

  constructor(options: RestClientOptions) {
    this.#options = options;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.limiter = new WeightRateLimiter({
      capacity: options.weightPerWindow,
      scheduler: this.#scheduler,
      ...(options.windowMs === undefined ? {} : { windowMs: options.windowMs }),
    });
  }

  /**
   * POSTs `body` as JSON and returns the decoded answer. `signal` abandons the request, its waits and its
   * retries (rejecting with `ConnectorError` `REST_FAILED`).
   */
  post(path: string, body: unknown, weight: number, signal?: AbortSignal): Promise<unknown> {
    return this.#request("POST", path, body, weight, signal);
  }

  /** GETs `path` (query string included, e.g. `/api/v3/depth?symbol=BTCUSDT&limit=1000`); as `post`. */
  get(path: string, weight: number, signal?: AbortSignal): Promise<unknown> {
    return this.#request("GET", path, undefined, weight, signal);
  }

  async #request(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    weight: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    const url = `${this.#options.baseUrl.replace(/\/+$/, "")}${path}`;
    const maxRetries = this.#options.maxRetries ?? 5;
    const doFetch = this.#options.fetch ?? fetch;
    for (let attempt = 1; ; attempt += 1) {
      await this.#abortable(this.limiter.acquire(weight), signal, url, method);
      let response: Response;
      try {
        response = await doFetch(url, {
          method,
          ...(method === "POST"
            ? { headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }
            : {}),
          signal:
            signal === undefined
              ? AbortSignal.timeout(this.#options.timeoutMs ?? 10_000)
              : AbortSignal.any([signal, AbortSignal.timeout(this.#options.timeoutMs ?? 10_000)]),
        });
      } catch (error) {
        if (signal?.aborted) throw abortedError(url, method);
        if (attempt > maxRetries) {
          throw new ConnectorError("REST_FAILED", `${method} ${url} failed: ${describeError(error)}`, {
            cause: error,
          });
        }
        await this.#abortable(
          this.#sleep(backoffDelay(attempt, this.#options.backoff, this.#options.random)),
          signal,
          url,
          method,
        );
        continue;
      }
      // 429: rate limited; 418: banned (Binance) for `Retry-After` seconds. Either holds every request.
      if (response.status === 429 || response.status === 418) {
        await response.body?.cancel();
        this.rateLimited += 1;
        const retryAfterMs =
          parseRetryAfter(response.headers.get("retry-after"), this.#scheduler.now()) ??
          backoffDelay(attempt, this.#options.backoff, this.#options.random);
        this.#options.onRateLimited?.({ status: response.status, retryAfterMs, attempt, url });
        if (attempt > maxRetries) {
          throw new ConnectorError(
            "RATE_LIMIT",
            `${method} ${url}: still rate limited after ${maxRetries} retries`,
          );
        }
        this.limiter.pauseFor(retryAfterMs);
        continue;
      }
      if (response.status >= 500) {
        await response.body?.cancel();
        if (attempt > maxRetries) {
          throw new ConnectorError("REST_FAILED", `${method} ${url} answered ${response.status}`);
        }
        await this.#abortable(
          this.#sleep(backoffDelay(attempt, this.#options.backoff, this.#options.random)),
          signal,
          url,
          method,
        );
        continue;
      }
      const text = await response.text();
      const verdict = this.#options.rateLimitOf?.(
        { status: response.status, headers: response.headers, text },
        this.#scheduler.now(),
      );
      if (verdict?.retry === true) {
        this.rateLimited += 1;
        const retryAfterMs =
          verdict.holdMs ??
          parseRetryAfter(response.headers.get("retry-after"), this.#scheduler.now()) ??
          backoffDelay(attempt, this.#options.backoff, this.#options.random);
        this.#options.onRateLimited?.({ status: response.status, retryAfterMs, attempt, url });
        if (attempt > maxRetries) {
          throw new ConnectorError(
            "RATE_LIMIT",
            `${method} ${url}: still rate limited after ${maxRetries} retries`,
          );
        }
        this.limiter.pauseFor(retryAfterMs);
        continue;
      }
      if (verdict?.holdMs !== undefined && verdict.holdMs > 0) this.limiter.pauseFor(verdict.holdMs);
      if (!response.ok) {
        throw new ConnectorError(
          "REST_FAILED",
          `${method} ${url} answered ${response.status}: ${text.slice(0, 200)}`,
        );
      }
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw new ConnectorError("PARSE_ERROR", `${method} ${url}: the answer is not JSON`, { cause: error });
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#scheduler.setTimeout(resolve, ms));
  }

  #abortable<T>(
    promise: Promise<T>,
    signal: AbortSignal | undefined,
    url: string,
    method: string,
  ): Promise<T> {
    if (signal === undefined) return promise;
    if (signal.aborted) return Promise.reject(abortedError(url, method));
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(abortedError(url, method));
      signal.addEventListener("abort", onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }
}

function abortedError(url: string, method: string): ConnectorError {
  return new ConnectorError("REST_FAILED", `${method} ${url}: abandoned (connector stopping)`);
}
