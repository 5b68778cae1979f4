/**
 * The bytes every stream client of this process holds: frames queued behind a socket and what the socket
 * buffers (not yet taken by the kernel; each socket holds its own copy). The outboxes keep their share
 * up to date; the hub cuts the slowest clients when the total is over `limitBytes`
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

  /** Bytes taken (positive) or given back (negative). */
  add(bytes: number): void {
    this.#used += bytes;
  }
}
