import type { ServerResponse } from "node:http";
import { type NormalizedFilter, matchesFilter } from "@market-scraper/events";
import type { Logger } from "@market-scraper/runtime";
import type { GatewayMetrics } from "../gateway-metrics.js";
import { ClientOutbox, type ClientOutboxOptions } from "./client-outbox.js";
import type { EventFrames } from "./event-frames.js";
import type { DisconnectReason, StreamClient, StreamHub } from "./stream-hub.js";
import type { SubscriptionView } from "./ws-protocol.js";

export interface SseClientOptions {
  response: ServerResponse;
  /** Headers set by the hooks (security headers, CORS) before the stream was taken over. */
  headers: Record<string, string | string[] | number | undefined>;
  filter: NormalizedFilter;
  view: Omit<SubscriptionView, "id">;
  hub: StreamHub;
  outbox: ClientOutboxOptions;
  closeGraceMs: number;
  logger: Logger;
  metrics?: GatewayMetrics;
}

const CLOSE_ERRORS: Readonly<Record<DisconnectReason, { code: string; message: string } | undefined>> = {
  slow_consumer: { code: "SLOW_CONSUMER", message: "the client did not read its events fast enough" },
  memory_budget: {
    code: "SLOW_CONSUMER",
    message: "among the slowest clients while the gateway was at its stream memory budget",
  },
  shutdown: { code: "SHUTTING_DOWN", message: "the gateway is restarting; reconnect" },
  heartbeat_timeout: undefined,
  client: undefined,
};

/**
 * One `GET /v1/stream/sse` client: `event: subscribed` first, then one unnamed message per matching
 * event (`id:` = event_id, `data:` = the event), `: ping` comments as keep-alive, and `event: close`
 * with `{ "error": { code, message } }` when the gateway ends the stream.
 */
export class SseClient implements StreamClient {
  readonly transport = "sse" as const;
  readonly #options: SseClientOptions;
  readonly #response: ServerResponse;
  readonly #outbox: ClientOutbox;
  #closing = false;

  constructor(options: SseClientOptions) {
    this.#options = options;
    const response = options.response;
    this.#response = response;
    const metrics = options.metrics;
    this.#outbox = new ClientOutbox(
      {
        buffered: () => response.writableLength,
        write: (frame, flushed) => {
          if (response.writableEnded || response.destroyed) return;
          metrics?.streamFramesSent.inc({ transport: "sse" });
          response.write(frame, () => flushed());
        },
      },
      options.outbox,
    );
    response.on("close", () => {
      this.#outbox.release();
      if (!this.#closing) {
        this.#closing = true;
        options.hub.remove(this, "client");
      }
      options.hub.gone(this);
    });
    response.on("error", (err) => options.logger.debug({ err }, "SSE response error"));
  }

  /** Sends the headers and the `subscribed` event. */
  start(): void {
    const headers = { ...this.#options.headers };
    delete headers["content-length"];
    this.#response.writeHead(200, {
      ...headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    this.#response.flushHeaders();
    this.#outbox.pushControl(
      `retry: 2000\nevent: subscribed\ndata: ${JSON.stringify(this.#options.view)}\n\n`,
    );
  }

  get pendingBytes(): number {
    return this.#outbox.pendingBytes;
  }

  terminate(): void {
    this.#response.destroy();
    this.#outbox.release();
  }

  offer(frames: EventFrames): void {
    if (this.#closing || !matchesFilter(this.#options.filter, frames.event)) return;
    const result = this.#outbox.push(frames.sse, frames.conflationKey, frames.sseBytes);
    if (result === "conflated") this.#options.metrics?.streamConflated.inc({ transport: "sse" });
    else if (result === "overflow") {
      this.#options.logger.warn(
        { queued: this.#outbox.queued, buffered: this.#response.writableLength },
        "disconnecting a slow SSE client",
      );
      this.close("slow_consumer");
    }
  }

  heartbeat(): void {
    // A client with frames queued is behind already: a comment would only queue behind them.
    if (!this.#closing && this.#outbox.queued === 0) this.#outbox.pushControl(": ping\n\n");
  }

  close(reason: DisconnectReason): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#outbox.close();
    this.#options.hub.remove(this, reason);
    const response = this.#response;
    const error = CLOSE_ERRORS[reason];
    if (error !== undefined && !response.writableEnded) {
      response.end(`event: close\ndata: ${JSON.stringify({ error })}\n\n`);
    } else if (!response.writableEnded) {
      response.end();
    }
    // A client that stopped reading would hold the socket open: destroy it after the grace period.
    const timer = setTimeout(() => response.destroy(), this.#options.closeGraceMs);
    timer.unref();
    response.once("close", () => clearTimeout(timer));
  }
}
