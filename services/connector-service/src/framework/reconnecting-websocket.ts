import WebSocket from "ws";
import { type BackoffOptions, backoffDelay } from "@market-scraper/bus";
import { type Scheduler, type TimerHandle, systemScheduler } from "./scheduler.js";

/** Why a connection ended. */
export type CloseCause = "remote" | "error" | "connect-timeout" | "stale" | "max-age" | "stopped";

export interface WsCloseInfo {
  code: number;
  reason: string;
  cause: CloseCause;
  /** The stream whose silence caused a `stale` close (`undefined`: the whole connection was silent). */
  staleKey?: string | undefined;
  error?: Error | undefined;
  /** False only after `stop()`. */
  willReconnect: boolean;
  /** Delay before the next attempt. */
  delayMs: number;
  /** Number of the next attempt (1 = first retry after a healthy connection). */
  attempt: number;
}

export interface WsListener {
  /** A connection attempt starts (`attempt` 0 = first connect, n = nth retry in a row). */
  onConnecting?(attempt: number): void;
  /** The socket is open; the registered subscriptions have just been (re-)sent. */
  onOpen?(): void;
  /** A text frame, with its receive time from the scheduler. */
  onMessage(text: string, receivedAt: number): void;
  /** A binary frame (its size in bytes): not decoded; the connection stays up. Default: ignored. */
  onBinary?(bytes: number, receivedAt: number): void;
  onClose?(info: WsCloseInfo): void;
}

export interface ReconnectingWebSocketOptions {
  url: string;
  listener: WsListener;
  scheduler?: Scheduler;
  /** Randomness of the backoff jitter; default `Math.random`. */
  random?: () => number;
  backoff?: BackoffOptions;
  /** Handshake must complete in this time; default 10 s. */
  connectTimeoutMs?: number;
  /** Application-level keepalive: `message` is sent every `intervalMs` while open. */
  keepalive?: { intervalMs: number; message: string };
  /** No frame at all for this long → the connection is stale and is replaced; default off. */
  staleAfterMs?: number;
  /** Reconnect proactively once a connection is this old (exchanges cut old connections); default off. */
  maxConnectionAgeMs?: number;
}

interface Stream {
  readonly message: string;
  readonly staleAfterMs: number | undefined;
  lastMessageAt: number;
}

/**
 * A WebSocket that stays connected: it reconnects forever with exponential backoff and jitter, re-sends
 * every registered subscription on each new connection, replaces a connection whose streams went silent
 * (per stream via `touch(key)`, and as a whole), sends the exchange's keepalive, and reconnects before the
 * exchange's connection-age limit. Time comes from the injected `Scheduler`.
 */
export class ReconnectingWebSocket {
  readonly #options: ReconnectingWebSocketOptions;
  readonly #scheduler: Scheduler;
  readonly #random: () => number;
  readonly #streams = new Map<string, Stream>();
  #socket: WebSocket | undefined;
  #running = false;
  #open = false;
  /** Consecutive failed attempts since the last connection that delivered a frame. */
  #failures = 0;
  #gotFrame = false;
  #openedAt = 0;
  #lastFrameAt = 0;
  #pendingCause: { cause: CloseCause; staleKey?: string | undefined } | undefined;
  #lastError: Error | undefined;
  #retryTimer: TimerHandle | undefined;
  #connectTimer: TimerHandle | undefined;
  #keepaliveTimer: TimerHandle | undefined;
  #watchdogTimer: TimerHandle | undefined;
  #ageTimer: TimerHandle | undefined;
  #stopped: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  /** When the last keepalive was sent (for round-trip measurements by the protocol layer). */
  lastKeepaliveAt: number | undefined;
  /** Connections opened so far. */
  connections = 0;

  constructor(options: ReconnectingWebSocketOptions) {
    this.#options = options;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#random = options.random ?? Math.random;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Time of the last frame received on any connection (0 before the first). */
  get lastFrameAt(): number {
    return this.#lastFrameAt;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopped = undefined;
    this.#connect(0);
  }

  /** Closes for good; resolves once the socket is closed. */
  stop(): Promise<void> {
    if (!this.#running) return this.#stopped ?? Promise.resolve();
    this.#running = false;
    this.#clearConnectionTimers();
    this.#scheduler.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const socket = this.#socket;
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) {
      this.#stopped = Promise.resolve();
      return this.#stopped;
    }
    this.#stopped = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#pendingCause = { cause: "stopped" };
    if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
    else {
      socket.close(1000, "client stopping");
      // A peer that never answers the close handshake must not hold up shutdown.
      const guard = setTimeout(() => socket.terminate(), 1_000);
      guard.unref();
    }
    return this.#stopped;
  }

  /**
   * Registers a stream: `message` is sent now (when open) and on every reconnect. With `staleAfterMs`,
   * a stream that gets no `touch(key)` for that long makes the connection stale.
   */
  subscribe(key: string, message: string, staleAfterMs?: number): void {
    this.#streams.set(key, { message, staleAfterMs, lastMessageAt: this.#scheduler.now() });
    if (this.#open) this.#socket?.send(message);
    this.#armWatchdog();
  }

  /** Forgets a stream; `message` (the unsubscribe frame) is sent when open. */
  unsubscribe(key: string, message?: string): void {
    if (!this.#streams.delete(key)) return;
    if (message !== undefined && this.#open) this.#socket?.send(message);
  }

  /** Stops watching a stream for silence without forgetting it. */
  setStaleAfter(key: string, staleAfterMs: number | undefined): void {
    const stream = this.#streams.get(key);
    if (stream === undefined) return;
    this.#streams.set(key, { ...stream, staleAfterMs });
    this.#armWatchdog();
  }

  /** A frame arrived for the stream `key`. */
  touch(key: string, at: number = this.#scheduler.now()): void {
    const stream = this.#streams.get(key);
    if (stream !== undefined) stream.lastMessageAt = at;
  }

  get streamKeys(): string[] {
    return [...this.#streams.keys()];
  }

  /** Sends a frame now; false when not connected. */
  send(text: string): boolean {
    if (!this.#open || this.#socket === undefined) return false;
    this.#socket.send(text);
    return true;
  }

  /** Drops the current connection and connects again at once (e.g. the exchange rejected us). */
  reconnect(cause: CloseCause = "error", staleKey?: string): void {
    if (!this.#running) return;
    this.#closeSocket(cause, staleKey);
  }

  #connect(attempt: number): void {
    if (!this.#running) return;
    this.#options.listener.onConnecting?.(attempt);
    this.#gotFrame = false;
    this.#pendingCause = undefined;
    this.#lastError = undefined;
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.#options.url, { perMessageDeflate: false });
    } catch (error) {
      this.#lastError = error instanceof Error ? error : new Error(String(error));
      this.#afterClose(1006, "", { cause: "error" });
      return;
    }
    this.#socket = socket;
    this.#connectTimer = this.#scheduler.setTimeout(() => {
      if (socket.readyState === WebSocket.CONNECTING) {
        this.#pendingCause = { cause: "connect-timeout" };
        socket.terminate();
      }
    }, this.#options.connectTimeoutMs ?? 10_000);
    socket.on("open", () => this.#onOpen(socket));
    socket.on("message", (data, isBinary) => {
      if (socket !== this.#socket) return;
      const receivedAt = this.#scheduler.now();
      this.#lastFrameAt = receivedAt;
      if (!this.#gotFrame) {
        // The connection works: the next failure starts the backoff from the beginning.
        this.#gotFrame = true;
        this.#failures = 0;
      }
      if (isBinary) {
        this.#options.listener.onBinary?.(byteLength(data), receivedAt);
        return;
      }
      const text = Buffer.isBuffer(data)
        ? data.toString("utf8")
        : Array.isArray(data)
          ? Buffer.concat(data).toString("utf8")
          : Buffer.from(data).toString("utf8");
      this.#options.listener.onMessage(text, receivedAt);
    });
    socket.on("error", (error) => {
      this.#lastError = error;
    });
    socket.on("close", (code, reason) => {
      if (socket !== this.#socket) return;
      this.#afterClose(
        code,
        reason.toString("utf8"),
        this.#pendingCause ?? { cause: this.#lastError ? "error" : "remote" },
      );
    });
  }

  #onOpen(socket: WebSocket): void {
    if (socket !== this.#socket) return;
    this.#scheduler.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#open = true;
    this.connections += 1;
    const now = this.#scheduler.now();
    this.#openedAt = now;
    this.#lastFrameAt = Math.max(this.#lastFrameAt, now);
    for (const stream of this.#streams.values()) {
      stream.lastMessageAt = now;
      socket.send(stream.message);
    }
    const keepalive = this.#options.keepalive;
    if (keepalive !== undefined) this.#scheduleKeepalive(keepalive.intervalMs, keepalive.message);
    const maxAge = this.#options.maxConnectionAgeMs;
    if (maxAge !== undefined) {
      this.#ageTimer = this.#scheduler.setTimeout(() => this.#closeSocket("max-age"), maxAge);
    }
    this.#armWatchdog();
    this.#options.listener.onOpen?.();
  }

  #scheduleKeepalive(intervalMs: number, message: string): void {
    this.#keepaliveTimer = this.#scheduler.setTimeout(() => {
      if (!this.#open) return;
      this.lastKeepaliveAt = this.#scheduler.now();
      this.#socket?.send(message);
      this.#scheduleKeepalive(intervalMs, message);
    }, intervalMs);
  }

  /** One timer at the earliest moment a stream (or the connection) could turn stale. */
  #armWatchdog(): void {
    this.#scheduler.clearTimeout(this.#watchdogTimer);
    this.#watchdogTimer = undefined;
    if (!this.#open) return;
    const deadline = this.#nextStaleDeadline();
    if (deadline === undefined) return;
    this.#watchdogTimer = this.#scheduler.setTimeout(
      () => this.#checkStale(),
      Math.max(0, deadline - this.#scheduler.now()),
    );
  }

  #nextStaleDeadline(): number | undefined {
    let deadline: number | undefined;
    const whole = this.#options.staleAfterMs;
    if (whole !== undefined) deadline = Math.max(this.#lastFrameAt, this.#openedAt) + whole;
    for (const stream of this.#streams.values()) {
      if (stream.staleAfterMs === undefined) continue;
      const at = stream.lastMessageAt + stream.staleAfterMs;
      if (deadline === undefined || at < deadline) deadline = at;
    }
    return deadline;
  }

  #checkStale(): void {
    this.#watchdogTimer = undefined;
    if (!this.#open) return;
    const now = this.#scheduler.now();
    const whole = this.#options.staleAfterMs;
    if (whole !== undefined && now - Math.max(this.#lastFrameAt, this.#openedAt) >= whole) {
      this.#closeSocket("stale");
      return;
    }
    for (const [key, stream] of this.#streams) {
      if (stream.staleAfterMs !== undefined && now - stream.lastMessageAt >= stream.staleAfterMs) {
        this.#closeSocket("stale", key);
        return;
      }
    }
    this.#armWatchdog();
  }

  #closeSocket(cause: CloseCause, staleKey?: string): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#pendingCause = { cause, staleKey };
    // terminate(): a stalled peer would never complete a close handshake.
    socket.terminate();
  }

  #clearConnectionTimers(): void {
    for (const timer of [this.#connectTimer, this.#keepaliveTimer, this.#watchdogTimer, this.#ageTimer]) {
      this.#scheduler.clearTimeout(timer);
    }
    this.#connectTimer = undefined;
    this.#keepaliveTimer = undefined;
    this.#watchdogTimer = undefined;
    this.#ageTimer = undefined;
  }

  #afterClose(code: number, reason: string, how: { cause: CloseCause; staleKey?: string | undefined }): void {
    this.#clearConnectionTimers();
    this.#open = false;
    this.#socket = undefined;
    if (!this.#running) {
      this.#options.listener.onClose?.({
        code,
        reason,
        cause: "stopped",
        willReconnect: false,
        delayMs: 0,
        attempt: 0,
      });
      this.#resolveClosed?.();
      this.#resolveClosed = undefined;
      return;
    }
    // A planned replacement (age limit) reconnects at once; anything else backs off.
    const planned = how.cause === "max-age";
    if (!planned) this.#failures += 1;
    const attempt = planned ? 0 : this.#failures;
    const delayMs = planned ? 0 : backoffDelay(attempt, this.#options.backoff, this.#random);
    this.#options.listener.onClose?.({
      code,
      reason,
      cause: how.cause,
      staleKey: how.staleKey,
      error: this.#lastError,
      willReconnect: true,
      delayMs,
      attempt,
    });
    this.#retryTimer = this.#scheduler.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#connect(attempt);
    }, delayMs);
  }
}

function byteLength(data: WebSocket.RawData): number {
  return Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : data.byteLength;
}
