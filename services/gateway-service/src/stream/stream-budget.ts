/**
 * The bytes every stream client of this process holds: frames queued behind a socket and frames handed
 * to a socket that have not reached the kernel yet (each socket holds its own copy). The outboxes add
 * and release; the hub cuts the slowest clients when the total is over `limitBytes`
 * (`GATEWAY_STREAM_MEMORY`), so the gateway's memory under overload is bounded by configuration.
 */
export class StreamBudget {
  readonly limitBytes: number;
  #used = 0;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  get used(): number {
    return this.#used;
  }

  get over(): boolean {
    return this.#used > this.limitBytes;
  }

  add(bytes: number): void {
    this.#used += bytes;
  }

  release(bytes: number): void {
    this.#used -= bytes;
  }
}
