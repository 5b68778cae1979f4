import type { StandardEvent } from "@market-scraper/events";
import type { GatewayMetrics } from "../gateway-metrics.js";
import { EventFrames } from "./event-frames.js";

export type StreamTransport = "ws" | "sse";

/** Why a stream ended; the label of `market_scraper_gateway_stream_disconnects_total`. */
export type DisconnectReason = "client" | "slow_consumer" | "shutdown" | "heartbeat_timeout";

/** One connected WebSocket or SSE client. */
export interface StreamClient {
  readonly transport: StreamTransport;
  /** Offered every live event; sends it when one of the client's filters matches. Never blocks. */
  offer(frames: EventFrames): void;
  /** Periodic keep-alive (WebSocket ping, SSE comment). */
  heartbeat(): void;
  /** Ends the stream with a reason the client can read; idempotent. */
  close(reason: DisconnectReason): void;
}

/**
 * Fans the gateway's one bus subscription out to its stream clients, in process. Each client has its
 * own bounded outbox, so fan-out is a loop of cheap, non-blocking `offer` calls.
 */
export class StreamHub {
  readonly #clients = new Set<StreamClient>();
  readonly #maxClients: number;
  readonly #metrics: GatewayMetrics | undefined;
  #closing = false;

  constructor(options: { maxClients: number; metrics?: GatewayMetrics }) {
    this.#maxClients = options.maxClients;
    this.#metrics = options.metrics;
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Room for one more client? */
  get full(): boolean {
    return this.#closing || this.#clients.size >= this.#maxClients;
  }

  add(client: StreamClient): boolean {
    if (this.full) return false;
    this.#clients.add(client);
    this.#metrics?.streamClients.inc({ transport: client.transport });
    return true;
  }

  /** Called by a client once it is gone, with the reason it went. */
  remove(client: StreamClient, reason: DisconnectReason): void {
    if (!this.#clients.delete(client)) return;
    this.#metrics?.streamClients.dec({ transport: client.transport });
    this.#metrics?.streamDisconnects.inc({ transport: client.transport, reason });
  }

  publish(event: StandardEvent): void {
    this.#metrics?.liveEvents.inc();
    if (this.#clients.size === 0) return;
    const frames = new EventFrames(event);
    for (const client of this.#clients) client.offer(frames);
  }

  heartbeat(): void {
    for (const client of this.#clients) client.heartbeat();
  }

  /** Refuses new clients and closes every client with `reason`. */
  closeAll(reason: DisconnectReason): void {
    this.#closing = true;
    for (const client of [...this.#clients]) client.close(reason);
  }
}
