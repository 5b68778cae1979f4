import type { NatsConnection } from "@nats-io/transport-node";
import { BusError } from "./errors.js";

export interface NatsLinkHandlers {
  onDisconnect(): void;
  onReconnect(): void;
}

/**
 * A NATS connection's ups and downs as a consumer needs them, from the connection's status events:
 * whether it is up, a wait until it is, and a guard that fails a request at the connection's next drop
 * (the client keeps no reconnect buffer, and an answer the server sent went to the old connection, so
 * such a request could only end at its timeout).
 */
export class NatsLink {
  #up: boolean;
  #stopped = false;
  #waiters: (() => void)[] = [];
  #dropped: Promise<never>;
  #drop: (err: Error) => void = () => undefined;

  constructor(nc: NatsConnection, handlers: NatsLinkHandlers) {
    this.#up = !nc.isClosed();
    this.#dropped = this.#nextDrop();
    void this.#watch(nc, handlers);
  }

  get up(): boolean {
    return this.#up;
  }

  /** Resolves once the connection is up (at once when it is), or when the link is stopped. */
  whenUp(): Promise<void> {
    if (this.#up || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** `work`, failed with `DISCONNECTED` if the connection is down now or drops before it settles. */
  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.#up ? this.#dropped : Promise.reject(disconnected())]);
  }

  /** Stops reporting (the status stream ends with the connection) and releases every wait. */
  stop(): void {
    this.#stopped = true;
    this.#wake();
  }

  async #watch(nc: NatsConnection, handlers: NatsLinkHandlers): Promise<void> {
    for await (const status of nc.status()) {
      if (this.#stopped) break;
      if (status.type === "disconnect" && this.#up) {
        this.#up = false;
        this.#drop(disconnected());
        handlers.onDisconnect();
      } else if (status.type === "reconnect" && !this.#up) {
        this.#up = true;
        this.#dropped = this.#nextDrop();
        this.#wake();
        handlers.onReconnect();
      }
    }
  }

  #nextDrop(): Promise<never> {
    const dropped = new Promise<never>((_, reject) => (this.#drop = reject));
    dropped.catch(() => undefined); // rejected at every drop, raced only while a request is in flight
    return dropped;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

function disconnected(): BusError {
  return new BusError("DISCONNECTED", "the NATS connection dropped; no answer can come");
}
