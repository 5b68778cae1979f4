import { type BackoffOptions, backoffDelay } from "@market-scraper/bus";
import { hostname } from "node:os";
import {
  type ConnectorState,
  EventType,
  type StandardEvent,
  StandardEvent as StandardEventApi,
} from "@market-scraper/events";
import { type Logger, redactSecrets } from "@market-scraper/runtime";
import { ConnectorError, type ConnectorErrorCode, describeError, errorCode } from "./connector-error.js";
import { type ConnectorMetrics, noopConnectorMetrics } from "./connector-metrics.js";
import { IsoFormatter } from "./iso-time.js";
import { bookStreamHash, orderBookEvent } from "./order-book/order-book-event.js";
import { OrderBookSync, type OrderBookSyncOptions } from "./order-book/order-book-sync.js";
import { type Scheduler, type TimerHandle, systemScheduler } from "./scheduler.js";

/** What a connector gives `createOrderBook`; the rest (publishing, reporting, time) it wires itself. */
export type ConnectorOrderBookOptions = Omit<
  OrderBookSyncOptions,
  "source" | "publish" | "onResync" | "onSynced" | "scheduler" | "metrics" | "logger"
>;

/** `error` events per error code and second; more are counted and summarized in the next one. */
export const ERRORS_PER_SECOND = 20;

/** Where a connector's events go (the service hands them to the bus). Must not throw. */
export interface EventSink {
  publish(event: StandardEvent): void;
}

export type HealthStatus = "healthy" | "degraded" | "unhealthy";

export interface ConnectorHealth {
  connector: string;
  status: HealthStatus;
  state: ConnectorState;
  /** Round trip of the last keepalive (ms), or null before the first answer. */
  latency_ms: number | null;
  /** Age of the last frame from the exchange (ms), or null before the first. */
  last_message_age_ms: number | null;
  reconnects: number;
  detail?: string;
  /** The last error the connector reported (`CODE: message`) and when (ISO), if any. */
  last_error?: string;
  last_error_at?: string;
}

export interface ConnectorOptions {
  /** The connector's name and the `source` of its events, e.g. `hyperliquid`. */
  name: string;
  sink: EventSink;
  logger: Logger;
  scheduler?: Scheduler;
  metrics?: ConnectorMetrics;
  /** `heartbeat` events every this many ms; 0 = none. Default 30 s. */
  heartbeatIntervalMs?: number;
  /** `instance` of heartbeats; default `<hostname>-<pid>`. */
  instance?: string;
  /** `service` of heartbeats; default `connector-service`. */
  service?: string;
  /** Called after every state change and every error (the service refreshes its readiness detail). */
  onChange?: () => void;
}

/**
 * The base of every connector: lifecycle (`start`/`stop`), the state machine behind `connector_status`
 * events (one per state change), `heartbeat` events every N seconds, `error` events (priority 1), and
 * `health()`. Exchange specifics live in subclasses (`onStart`/`onStop`).
 */
export abstract class Connector {
  readonly name: string;
  protected readonly logger: Logger;
  protected readonly scheduler: Scheduler;
  protected readonly metrics: ConnectorMetrics;
  readonly #sink: EventSink;
  readonly #heartbeatIntervalMs: number;
  readonly #instance: string;
  readonly #service: string;
  #state: ConnectorState = "disconnected";
  /** The message of the last state change, and when it happened. */
  #stateMessage: string | undefined;
  #stateSince = 0;
  #lastError: { text: string; at: number } | undefined;
  readonly #onChange: (() => void) | undefined;
  #startedAt = 0;
  #running = false;
  #heartbeatTimer: TimerHandle | undefined;
  readonly #errorBudget = new Map<string, { windowStart: number; sent: number; suppressed: number }>();
  /** Per-symbol state of a channel (`order_book`), keyed `channel\0symbol`; see `setSymbolState`. */
  readonly #symbolStates = new Map<string, ConnectorState>();
  readonly #books = new Map<string, OrderBookSync>();
  #unknownSymbols: readonly string[] = [];
  readonly #sleepers = new Set<() => void>();
  protected lastMessageAt = 0;
  protected latencyMs: number | null = null;
  protected reconnects = 0;

  protected constructor(options: ConnectorOptions) {
    this.name = options.name;
    this.#sink = options.sink;
    this.logger = options.logger.child({ component: "connector", connector: options.name });
    this.scheduler = options.scheduler ?? systemScheduler;
    this.metrics = options.metrics ?? noopConnectorMetrics;
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? 30_000;
    this.#instance = options.instance ?? `${hostname()}-${process.pid}`;
    this.#service = options.service ?? "connector-service";
    this.#onChange = options.onChange;
  }

  /** The last error reported (`CODE: message`, URL credentials redacted) and when, if any. */
  get lastError(): { text: string; at: number } | undefined {
    return this.#lastError;
  }

  get state(): ConnectorState {
    return this.#state;
  }

  get running(): boolean {
    return this.#running;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#startedAt = this.scheduler.now();
    this.#lastError = undefined;
    this.#scheduleHeartbeat();
    await this.onStart();
  }

  /** Stops intake and closes the exchange connection; the last event is `connector_status` `stopped`. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.scheduler.clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
    await this.onStop();
    for (const book of this.#books.values()) book.close();
    this.setState("stopped", { message: "connector stopped" });
  }

  protected abstract onStart(): Promise<void>;
  protected abstract onStop(): Promise<void>;

  /** Extra detail for `health()`: a reason to be degraded (e.g. streams not subscribed), or undefined. */
  protected degradedReason(): string | undefined {
    return undefined;
  }

  /** Configured names the exchange does not list as trading (never subscribed). */
  get unknownSymbols(): readonly string[] {
    return this.#unknownSymbols;
  }

  /** Records the configured names the exchange does not list: `health()` says so (degraded). */
  protected setUnknownSymbols(names: Iterable<string>): void {
    this.#unknownSymbols = [...names];
  }

  /** Waits `ms` on the connector's scheduler; `wakeSleepers()` (from `onStop`) ends every such wait at once. */
  protected sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.#sleepers.delete(done);
        this.scheduler.clearTimeout(timer);
        resolve();
      };
      const timer = this.scheduler.setTimeout(done, ms);
      this.#sleepers.add(done);
    });
  }

  /** Ends every `sleep()` in progress; call it from `onStop` once the connector's loops see that it stops. */
  protected wakeSleepers(): void {
    for (const wake of [...this.#sleepers]) wake();
  }

  /**
   * Runs `load` (the exchange's instrument list) until it answers or `stopping()`: each failure is an
   * `error` event (`what` names the request) and a `connecting` status with the retry delay, then a
   * `backoffDelay` wait. Resolves undefined when the connector stops first.
   */
  protected async loadUntilStopped<T>(
    what: string,
    load: () => Promise<T>,
    retry: {
      stopping: () => boolean;
      backoff?: BackoffOptions | undefined;
      random?: (() => number) | undefined;
    },
  ): Promise<T | undefined> {
    for (let attempt = 1; !retry.stopping(); attempt += 1) {
      try {
        return await load();
      } catch (error) {
        if (retry.stopping()) return undefined;
        const code = error instanceof ConnectorError ? error.code : "REST_FAILED";
        const delay = backoffDelay(attempt, retry.backoff, retry.random);
        const cause = errorCode(error instanceof ConnectorError ? error.cause : error);
        this.emitError(
          code,
          `${this.name}: cannot load ${what} (retry in ${delay} ms): ${error instanceof ConnectorError ? error.message : describeError(error)}`,
          { attempt, retry_in_ms: delay, ...(cause === undefined ? {} : { cause }) },
        );
        // Still resolving symbols, now with the reason: a status event carrying `last_error`.
        this.setState("connecting", { message: `resolving symbols (retry in ${delay} ms)`, force: true });
        await this.sleep(delay);
      }
    }
    return undefined;
  }

  /** Exposes the age of the newest frame per channel (`lastFrameAt`: channel → scheduler time) as a metric. */
  protected watchFrameAges(lastFrameAt: () => Iterable<readonly [string, number]> | undefined): void {
    this.metrics.watchAge(this.name, () => {
      const now = this.scheduler.now();
      const ages: Record<string, number | null> = {};
      for (const [channel, at] of lastFrameAt() ?? []) ages[channel] = now - at;
      return ages;
    });
  }

  health(): ConnectorHealth {
    const now = this.scheduler.now();
    const age = this.lastMessageAt === 0 ? null : now - this.lastMessageAt;
    let status: HealthStatus;
    let detail: string | undefined;
    switch (this.#state) {
      case "subscribed": {
        const unknown =
          this.#unknownSymbols.length > 0 ? `unknown symbols: ${this.#unknownSymbols.join(", ")}` : undefined;
        const reasons = [unknown, this.degradedReason(), this.#booksDetail()].filter((r) => r !== undefined);
        detail = reasons.length === 0 ? undefined : reasons.join("; ");
        status = detail === undefined ? "healthy" : "degraded";
        break;
      }
      case "connected":
        status = "degraded";
        detail = "connected, waiting for subscription acks";
        break;
      case "connecting":
      case "reconnecting":
      case "stale":
      case "disconnected":
      case "stopped": {
        status = "unhealthy";
        detail = this.#stateMessage === undefined ? this.#state : `${this.#state}: ${this.#stateMessage}`;
        // An error since this state began says why it lasts (e.g. the exchange cannot be reached).
        if (this.#lastError !== undefined && this.#lastError.at >= this.#stateSince)
          detail += `; last error: ${this.#lastError.text}`;
        break;
      }
    }
    return {
      connector: this.name,
      status,
      state: this.#state,
      latency_ms: this.latencyMs,
      last_message_age_ms: age,
      reconnects: this.reconnects,
      ...(detail === undefined ? {} : { detail }),
      ...(this.#lastError === undefined
        ? {}
        : { last_error: this.#lastError.text, last_error_at: new Date(this.#lastError.at).toISOString() }),
    };
  }

  /**
   * Moves to `status` and publishes a `connector_status` event if it changed (or `force`). The event
   * carries the last error (`last_error`, `last_error_at`) when there was one since the connector started.
   */
  protected setState(
    status: ConnectorState,
    extra: { message?: string; channel?: string; attempt?: number; symbols?: string[]; force?: boolean } = {},
  ): void {
    const previous = this.#state;
    if (previous === status && !extra.force) return;
    this.#state = status;
    if (previous !== status) this.#stateSince = this.scheduler.now();
    this.#stateMessage = extra.message;
    this.logger.info({ status, previous_status: previous, ...extra }, `connector ${this.name}: ${status}`);
    this.#emitStatus(status, previous, extra);
    this.#onChange?.();
  }

  /**
   * The state of one symbol's stream on a channel (an order book resyncing is `reconnecting`, in sync
   * `subscribed`), published as a `connector_status` event with `channel` and `symbols: [symbol]` when it
   * changes; the connector's own state is untouched. Symbols not `subscribed` make `health()` degraded.
   */
  protected setSymbolState(channel: string, symbol: string, status: ConnectorState, message?: string): void {
    const key = `${channel}\u0000${symbol}`;
    const previous = this.#symbolStates.get(key);
    if (previous === status) return;
    this.#symbolStates.set(key, status);
    this.logger.info(
      { channel, symbol, status, previous_status: previous, message },
      `connector ${this.name}: ${channel} ${symbol}: ${status}`,
    );
    this.#emitStatus(status, previous, {
      channel,
      symbols: [symbol],
      ...(message === undefined ? {} : { message }),
    });
    this.#onChange?.();
  }

  /**
   * The order book of one symbol, wired to this connector: books go out as `order_book` events, a resync
   * as an `error` `BOOK_RESYNC` (details: symbol, raw_symbol, reason, detail) and the symbol's
   * `order_book` state (`reconnecting` until it is in sync again, then `subscribed`), the resync metric,
   * and the books per state in `market_scraper_connector_books`. A second book for a symbol replaces the
   * first; `stop()` closes them all.
   */
  protected createOrderBook(options: ConnectorOrderBookOptions): OrderBookSync {
    if (this.#books.size === 0) {
      this.metrics.watchBooks(this.name, () => {
        const counts: Record<string, number> = {};
        for (const book of this.#books.values())
          if (book.state !== "closed") counts[book.state] = (counts[book.state] ?? 0) + 1;
        return counts;
      });
    }
    this.#books.get(options.symbol)?.close();
    const { symbol, rawSymbol } = options;
    const streamHash = bookStreamHash(this.name, rawSymbol);
    const iso = new IsoFormatter();
    const book = new OrderBookSync({
      ...options,
      source: this.name,
      scheduler: this.scheduler,
      metrics: this.metrics,
      logger: this.logger,
      publish: (published) => this.publish(orderBookEvent(published, streamHash, iso)),
      onResync: (reason, detail) => {
        this.emitError("BOOK_RESYNC", `order book ${symbol} resync (${reason}): ${detail}`, {
          symbol,
          raw_symbol: rawSymbol,
          reason,
          detail,
        });
        this.setSymbolState("order_book", symbol, "reconnecting", `resync (${reason}): ${detail}`);
      },
      onSynced: (sequence) =>
        this.setSymbolState("order_book", symbol, "subscribed", `order book in sync at ${sequence}`),
    });
    this.#books.set(symbol, book);
    return book;
  }

  /** The order books not in sync, for `health()`. */
  #booksDetail(): string | undefined {
    const behind: string[] = [];
    for (const [symbol, book] of this.#books)
      if (book.state !== "synced" && book.state !== "closed") behind.push(symbol);
    if (behind.length === 0) return undefined;
    const shown = behind.slice(0, 5).join(", ");
    return `order books not in sync: ${shown}${behind.length > 5 ? ` (+${behind.length - 5} more)` : ""}`;
  }

  #emitStatus(
    status: ConnectorState,
    previous: ConnectorState | undefined,
    extra: { message?: string; channel?: string; attempt?: number; symbols?: string[] },
  ): void {
    const payload: Record<string, unknown> = { connector: this.name, status };
    if (previous !== undefined) payload.previous_status = previous;
    if (extra.message !== undefined) payload.message = extra.message;
    if (extra.channel !== undefined) payload.channel = extra.channel;
    if (extra.attempt !== undefined) payload.attempt = extra.attempt;
    if (extra.symbols !== undefined) payload.symbols = extra.symbols;
    if (this.#lastError !== undefined) {
      payload.last_error = this.#lastError.text;
      payload.last_error_at = new Date(this.#lastError.at).toISOString();
    }
    this.#emitSystem(EventType.CONNECTOR_STATUS, payload);
  }

  /**
   * Publishes an `error` event (priority 1) and logs it. At most `ERRORS_PER_SECOND` per code: a
   * stream of garbage must not turn into a stream of error events; the next one that goes out carries
   * `details.suppressed` (how many were left out before it); `last_error` is the last one that went out.
   * URL credentials in the message or in a
   * string detail (an error's text may quote the URL it failed on) go out as `***`.
   */
  protected emitError(
    code: ConnectorErrorCode,
    rawMessage: string,
    rawDetails: Record<string, unknown> = {},
  ): void {
    const now = this.scheduler.now();
    let budget = this.#errorBudget.get(code);
    if (budget === undefined || now - budget.windowStart >= 1_000) {
      budget = { windowStart: now, sent: 0, suppressed: budget?.suppressed ?? 0 };
      this.#errorBudget.set(code, budget);
    }
    if (budget.sent >= ERRORS_PER_SECOND) {
      // Suppressed: no redaction or readiness work per error in a burst (log lines are redacted anyway).
      budget.suppressed += 1;
      this.logger.debug({ error_code: code, details: rawDetails }, rawMessage);
      return;
    }
    const message = redactSecrets(rawMessage);
    const details: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rawDetails))
      details[key] = typeof value === "string" ? redactSecrets(value) : value;
    this.#lastError = { text: `${code}: ${message}`, at: now };
    this.#onChange?.();
    budget.sent += 1;
    const suppressed = budget.suppressed;
    budget.suppressed = 0;
    this.logger.warn({ error_code: code, details, suppressed }, message);
    this.#emitSystem(EventType.ERROR, {
      error_code: code,
      message,
      details: suppressed > 0 ? { ...details, suppressed } : details,
    });
  }

  /** Hands a market-data event (already valid) to the sink. */
  protected publish(event: StandardEvent): void {
    this.metrics.eventOut(this.name, event.event_type);
    this.#sink.publish(event);
  }

  #emitSystem(type: "connector_status" | "error" | "heartbeat", payload: Record<string, unknown>): void {
    try {
      const event = StandardEventApi.create(
        { event_type: type, source: this.name, payload: payload as never },
        this.scheduler,
      );
      this.publish(event);
    } catch (error) {
      this.logger.error({ err: error, type }, "could not build a system event");
    }
  }

  #scheduleHeartbeat(): void {
    if (this.#heartbeatIntervalMs <= 0 || !this.#running) return;
    this.#heartbeatTimer = this.scheduler.setTimeout(() => {
      if (!this.#running) return;
      const health = this.health();
      this.#emitSystem(EventType.HEARTBEAT, {
        service: this.#service,
        instance: this.#instance,
        uptime_s: Math.max(0, (this.scheduler.now() - this.#startedAt) / 1000),
        status: health.status,
        connector: this.name,
        state: health.state,
        last_message_age_ms: health.last_message_age_ms,
      });
      this.#scheduleHeartbeat();
    }, this.#heartbeatIntervalMs);
  }
}
