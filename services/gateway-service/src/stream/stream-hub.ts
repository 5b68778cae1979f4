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
  /** Each client and the address it connected from. */
  readonly #clients = new Map<StreamClient, string>();
  readonly #perAddress = new Map<string, number>();
  readonly #maxClients: number;
  readonly #maxPerAddress: number;
  readonly #metrics: GatewayMetrics | undefined;
  #closing = false;

  constructor(options: { maxClients: number; maxPerAddress?: number; metrics?: GatewayMetrics }) {
    this.#maxClients = options.maxClients;
    this.#maxPerAddress = options.maxPerAddress ?? options.maxClients;
    this.#metrics = options.metrics;
  }

  get size(): number {
    return this.#clients.size;
  }

  /**
   * Room for one more client from `address`? `full`: the replica is at its client limit (or closing);
   * `address_full`: that address holds its limit of concurrent streams already.
   */
  admit(address: string): "ok" | "full" | "address_full" {
    if (this.#closing || this.#clients.size >= this.#maxClients) return "full";
    if ((this.#perAddress.get(address) ?? 0) >= this.#maxPerAddress) return "address_full";
    return "ok";
  }

  /** Adds a client unless `admit` says no (the room may have gone since the caller checked). */
  add(client: StreamClient, address: string): boolean {
    if (this.admit(address) !== "ok") return false;
    this.#clients.set(client, address);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    this.#metrics?.streamClients.inc({ transport: client.transport });
    return true;
  }

  /** Called by a client once it is gone, with the reason it went. */
  remove(client: StreamClient, reason: DisconnectReason): void {
    const address = this.#clients.get(client);
    if (address === undefined) return;
    this.#clients.delete(client);
    const count = (this.#perAddress.get(address) ?? 1) - 1;
    if (count === 0) this.#perAddress.delete(address);
    else this.#perAddress.set(address, count);
    this.#metrics?.streamClients.dec({ transport: client.transport });
    this.#metrics?.streamDisconnects.inc({ transport: client.transport, reason });
  }

  publish(event: StandardEvent): void {
    this.#metrics?.liveEvents.inc();
    if (this.#clients.size === 0) return;
    const frames = new EventFrames(event);
    for (const client of this.#clients.keys()) client.offer(frames);
  }

  heartbeat(): void {
    for (const client of this.#clients.keys()) client.heartbeat();
  }

  /** Refuses new clients and closes every client with `reason`. */
  closeAll(reason: DisconnectReason): void {
    this.#closing = true;
    for (const client of [...this.#clients.keys()]) client.close(reason);
  }
}
