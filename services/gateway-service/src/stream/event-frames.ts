import type { StandardEvent } from "@market-scraper/events";

/**
 * The wire forms of one live event, each serialized at most once however many clients receive it.
 */
export class EventFrames {
  readonly event: StandardEvent;
  #json: string | undefined;
  #ws: string | undefined;
  #sse: string | undefined;
  #wsBytes: number | undefined;
  #sseBytes: number | undefined;

  constructor(event: StandardEvent) {
    this.event = event;
  }

  get json(): string {
    this.#json ??= JSON.stringify(this.event);
    return this.#json;
  }

  /** `{"type":"event","event":{…}}` (ARCHITECTURE §6). */
  get ws(): string {
    this.#ws ??= `{"type":"event","event":${this.json}}`;
    return this.#ws;
  }

  /** The UTF-8 size of `ws` (what one client's socket buffers of it). */
  get wsBytes(): number {
    this.#wsBytes ??= Buffer.byteLength(this.ws);
    return this.#wsBytes;
  }

  /** The UTF-8 size of `sse`. */
  get sseBytes(): number {
    this.#sseBytes ??= Buffer.byteLength(this.sse);
    return this.#sseBytes;
  }

  /** An unnamed SSE message (`onmessage`), with the event id as `id`. */
  get sse(): string {
    this.#sse ??= `id: ${this.event.event_id}\ndata: ${this.json}\n\n`;
    return this.#sse;
  }

  /**
   * Latest-value data (tickers, books, derivative tickers) can be conflated per source and symbol: a
   * newer value makes an unsent older one worthless. Other events (trades, liquidations, candles,
   * status) are never conflated.
   */
  get conflationKey(): string | undefined {
    const { event_type, source } = this.event;
    if (event_type !== "ticker" && event_type !== "order_book" && event_type !== "derivative_ticker")
      return undefined;
    const symbol = (this.event.payload as { symbol?: unknown }).symbol;
    return `${event_type}\u0000${source}\u0000${typeof symbol === "string" ? symbol : ""}`;
  }
}
