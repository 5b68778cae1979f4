import { type NormalizedFilter, matchesFilter, normalizeFilter } from "@market-scraper/events";
import type { Logger } from "@market-scraper/runtime";
import { WebSocket, type RawData } from "ws";
import type { GatewayMetrics } from "../gateway-metrics.js";
import { ClientOutbox, type ClientOutboxOptions } from "./client-outbox.js";
import type { EventFrames } from "./event-frames.js";
import type { DisconnectReason, StreamClient, StreamHub } from "./stream-hub.js";
import { type ClientMessage, type SubscriptionView, parseClientMessage } from "./ws-protocol.js";

export interface WsClientOptions {
  socket: WebSocket;
  hub: StreamHub;
  outbox: ClientOutboxOptions;
  maxSubscriptions: number;
  /** After a close frame, how long the client has to answer before its socket is destroyed. */
  closeGraceMs: number;
  logger: Logger;
  metrics?: GatewayMetrics;
}

/** WebSocket close codes and reasons (a reason is at most 123 bytes). */
const CLOSE: Readonly<Record<Exclude<DisconnectReason, "client" | "heartbeat_timeout">, [number, string]>> = {
  slow_consumer: [1008, "SLOW_CONSUMER: the client did not read its events fast enough"],
  memory_budget: [
    1008,
    "SLOW_CONSUMER: among the slowest clients while the gateway was at its stream memory budget",
  ],
  shutdown: [1001, "SHUTTING_DOWN: the gateway is restarting; reconnect"],
};

interface ActiveSubscription {
  readonly view: SubscriptionView;
  readonly filter: NormalizedFilter;
}

/** One `/v1/stream` connection: its subscriptions, its bounded outbox and the protocol of ARCHITECTURE §6. */
export class WsClient implements StreamClient {
  readonly transport = "ws" as const;
  readonly #socket: WebSocket;
  readonly #options: WsClientOptions;
  readonly #outbox: ClientOutbox;
  readonly #subscriptions = new Map<string, ActiveSubscription>();
  #nextId = 1;
  #alive = true;
  #closing = false;
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(options: WsClientOptions) {
    this.#options = options;
    this.#socket = options.socket;
    const socket = options.socket;
    const metrics = options.metrics;
    this.#outbox = new ClientOutbox(
      {
        buffered: () => socket.bufferedAmount,
        write: (frame, flushed) => {
          if (socket.readyState !== WebSocket.OPEN) return;
          metrics?.streamFramesSent.inc({ transport: "ws" });
          socket.send(frame, () => flushed());
        },
      },
      options.outbox,
    );
    socket.on("message", (data, isBinary) => this.#onMessage(data, isBinary));
    socket.on("pong", () => {
      this.#alive = true;
    });
    socket.on("error", (err) => options.logger.debug({ err }, "websocket error"));
    socket.on("close", () => {
      clearTimeout(this.#graceTimer);
      this.#outbox.release();
      if (!this.#closing) {
        this.#closing = true;
        options.hub.remove(this, "client");
      }
      options.hub.gone(this);
    });
  }

  /** Events sent (or queued) to this client so far. */
  get sent(): number {
    return this.#outbox.sent;
  }

  get pendingBytes(): number {
    return this.#outbox.pendingBytes;
  }

  terminate(): void {
    clearTimeout(this.#graceTimer);
    this.#socket.terminate();
    this.#outbox.release();
  }

  offer(frames: EventFrames): void {
    if (this.#closing || this.#subscriptions.size === 0) return;
    let wanted = false;
    for (const subscription of this.#subscriptions.values()) {
      if (matchesFilter(subscription.filter, frames.event)) {
        wanted = true;
        break;
      }
    }
    if (!wanted) return;
    const result = this.#outbox.push(frames.ws, frames.conflationKey, frames.wsBytes);
    if (result === "conflated") this.#options.metrics?.streamConflated.inc({ transport: "ws" });
    else if (result === "overflow") {
      this.#options.logger.warn(
        { queued: this.#outbox.queued, buffered: this.#socket.bufferedAmount },
        "disconnecting a slow WebSocket client",
      );
      this.close("slow_consumer");
    }
  }

  heartbeat(): void {
    if (this.#closing) return;
    if (!this.#alive) {
      this.close("heartbeat_timeout");
      return;
    }
    this.#alive = false;
    this.#socket.ping();
  }

  close(reason: DisconnectReason): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#outbox.close();
    this.#options.hub.remove(this, reason);
    if (reason === "heartbeat_timeout" || reason === "client") {
      this.#socket.terminate();
      return;
    }
    const [code, text] = CLOSE[reason];
    this.#socket.close(code, text);
    // A client that stopped reading never answers the close frame: do not wait for it forever.
    this.#graceTimer = setTimeout(() => this.#socket.terminate(), this.#options.closeGraceMs);
    this.#graceTimer.unref();
  }

  #send(frame: Record<string, unknown>): void {
    if (this.#outbox.pushControl(JSON.stringify(frame)) === "overflow") this.close("slow_consumer");
  }

  #error(message: string, id: string | undefined, code = "BAD_REQUEST"): void {
    this.#send({ type: "error", ...(id === undefined ? {} : { id }), error: { code, message } });
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    this.#alive = true;
    if (this.#closing) return;
    if (isBinary) {
      this.#error("binary frames are not supported: send JSON text", undefined);
      return;
    }
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : data instanceof ArrayBuffer
        ? Buffer.from(data)
        : data;
    const text = bytes.toString("utf8");
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      this.#error(parsed.message, parsed.id);
      return;
    }
    this.#handle(parsed.message);
  }

  #handle(message: ClientMessage): void {
    switch (message.action) {
      case "ping":
        this.#send({ type: "pong", ...(message.id === undefined ? {} : { id: message.id }) });
        return;
      case "subscribe": {
        if (this.#subscriptions.size >= this.#options.maxSubscriptions) {
          this.#error(
            `at most ${this.#options.maxSubscriptions} subscriptions per connection`,
            message.id,
            "LIMIT_EXCEEDED",
          );
          return;
        }
        let id = message.id;
        if (id !== undefined && this.#subscriptions.has(id)) {
          this.#error(`subscription '${id}' exists already`, id);
          return;
        }
        while (id === undefined || this.#subscriptions.has(id)) id = `s${this.#nextId++}`;
        const view: SubscriptionView = {
          id,
          event_types: message.event_types === undefined ? null : [...new Set(message.event_types)],
          symbols: message.symbols === undefined ? null : [...new Set(message.symbols)],
          sources: message.sources === undefined ? null : [...new Set(message.sources)],
        };
        const filter = normalizeFilter({
          ...(view.event_types === null ? {} : { event_types: view.event_types }),
          ...(view.symbols === null ? {} : { symbols: view.symbols }),
          ...(view.sources === null ? {} : { sources: view.sources }),
        });
        this.#subscriptions.set(id, { view, filter });
        this.#send({ type: "subscribed", ...view, subscriptions: this.#views() });
        return;
      }
      case "unsubscribe": {
        const removed: string[] = [];
        if (message.id === undefined) {
          removed.push(...this.#subscriptions.keys());
          this.#subscriptions.clear();
        } else if (this.#subscriptions.delete(message.id)) {
          removed.push(message.id);
        } else {
          this.#error(`no subscription '${message.id}'`, message.id, "NOT_FOUND");
          return;
        }
        this.#send({ type: "subscribed", removed, subscriptions: this.#views() });
        return;
      }
    }
  }

  #views(): SubscriptionView[] {
    return [...this.#subscriptions.values()].map((s) => s.view);
  }
}
