import type { StandardEvent } from "@market-scraper/events";
import type { GatewayMetrics } from "../gateway-metrics.js";
import { EventFrames } from "./event-frames.js";
import type { StreamBudget } from "./stream-budget.js";

export type StreamTransport = "ws" | "sse";

/**
 * Why a stream ended; the label of `market_scraper_gateway_stream_disconnects_total`. `memory_budget`:
 * cut, slowest first, because all clients together held more than `GATEWAY_STREAM_MEMORY`.
 */
export type DisconnectReason =
  "client" | "slow_consumer" | "memory_budget" | "shutdown" | "heartbeat_timeout";

/** Past its budget the hub cuts clients until their bytes are down to this share of it. */
const SHED_TO = 0.9;
/** The event loop gets a turn after fan-out of this share of the budget (at least 64 KiB). */
const YIELD_SHARE = 1 / 16;

/** One connected WebSocket or SSE client. */
export interface StreamClient {
  readonly transport: StreamTransport;
  /** Offered every live event; sends it when one of the client's filters matches. Never blocks. */
  offer(frames: EventFrames): void;
  /** Periodic keep-alive (WebSocket ping, SSE comment). */
  heartbeat(): void;
  /** Ends the stream with a reason the client can read; idempotent. */
  close(reason: DisconnectReason): void;
  /** Bytes held for this client now (queued, and in its socket's buffer); 0 once its socket is gone. */
  readonly pendingBytes: number;
  /** Destroys the socket now (after `close`), freeing what it still buffers. */
  terminate(): void;
}

/**
 * Fans the gateway's one bus subscription out to its stream clients, in process. Each client has its
 * own bounded outbox, so fan-out is a loop of cheap, non-blocking `offer` calls. All outboxes count
 * against one `StreamBudget`: past it, the hub cuts the slowest clients (most bytes held) first.
 */
export class StreamHub {
  /** Each client and the address it connected from. */
  readonly #clients = new Map<StreamClient, string>();
  readonly #perAddress = new Map<string, number>();
  readonly #maxClients: number;
  readonly #maxPerAddress: number;
  readonly #metrics: GatewayMetrics | undefined;
  readonly #budget: StreamBudget | undefined;
  /** Clients cut by the gateway whose sockets still hold bytes (they get the close grace to read them). */
  readonly #leaving = new Set<StreamClient>();
  readonly #yieldBytes: number;
  readonly #yieldEvents: number;
  /** Bytes and events fanned out since the event loop last had a turn. */
  #burst = 0;
  #burstEvents = 0;
  #closing = false;

  constructor(options: {
    maxClients: number;
    maxPerAddress?: number;
    budget?: StreamBudget;
    /**
     * Events fanned out before the event loop gets a turn (default: no limit). Keep it under a client's
     * queue (`GATEWAY_STREAM_BUFFER`): within one synchronous burst no socket flushes, so every client,
     * fast or slow, queues the whole burst.
     */
    burstEvents?: number;
    metrics?: GatewayMetrics;
  }) {
    this.#maxClients = options.maxClients;
    this.#maxPerAddress = options.maxPerAddress ?? options.maxClients;
    this.#budget = options.budget;
    this.#yieldBytes = Math.max(65_536, (options.budget?.limitBytes ?? 64 * 1024 * 1024) * YIELD_SHARE);
    this.#yieldEvents = options.burstEvents ?? Number.POSITIVE_INFINITY;
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
    if (reason !== "client" && client.pendingBytes > 0) this.#leaving.add(client);
    this.#metrics?.streamClients.dec({ transport: client.transport });
    this.#metrics?.streamDisconnects.inc({ transport: client.transport, reason });
  }

  /** Called by a client once its socket is gone (its bytes are freed). */
  gone(client: StreamClient): void {
    this.#leaving.delete(client);
  }

  /**
   * Offers an event to every client. Returns a promise (the bus awaits it) when the event loop should
   * have a turn first: a socket write that the kernel took at once still holds its buffer until its
   * callback runs on the next tick, so fanning out a backlog of events in one synchronous go would pin
   * memory beyond any budget (and starve the sockets and the bus connection).
   */
  publish(event: StandardEvent): Promise<void> | undefined {
    this.#metrics?.liveEvents.inc();
    if (this.#clients.size === 0) return undefined;
    const frames = new EventFrames(event);
    for (const client of this.#clients.keys()) client.offer(frames);
    if (this.#budget?.over === true) this.#shed(this.#budget);
    this.#burst += frames.wsBytes * this.#clients.size;
    this.#burstEvents++;
    if (this.#burst < this.#yieldBytes && this.#burstEvents < this.#yieldEvents) return undefined;
    this.#burst = 0;
    this.#burstEvents = 0;
    return new Promise((resolve) => setImmediate(resolve));
  }

  /**
   * Brings the bytes held for clients back under the budget, to `SHED_TO` of it. First the sockets of
   * clients cut already are destroyed, most bytes first; then the slowest live clients (most bytes
   * held) are cut: their queues are freed at once, and their sockets destroyed too while the memory is
   * still needed (otherwise the close frame goes out behind what they hold). So memory is bounded by
   * the budget, and fast clients (which hold next to nothing) are the last to go.
   */
  #shed(budget: StreamBudget): void {
    const target = budget.limitBytes * SHED_TO;
    const leaving = [...this.#leaving].sort((a, b) => b.pendingBytes - a.pendingBytes);
    for (const client of leaving) {
      if (budget.used <= target) return;
      this.#terminate(client);
    }
    const slowest = [...this.#clients.keys()].sort((a, b) => b.pendingBytes - a.pendingBytes);
    for (const client of slowest) {
      if (budget.used <= target || client.pendingBytes === 0) return;
      client.close("memory_budget");
      if (budget.used > target) this.#terminate(client);
    }
  }

  #terminate(client: StreamClient): void {
    this.#leaving.delete(client);
    client.terminate();
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
