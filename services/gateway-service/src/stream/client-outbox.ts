import type { StreamBudget } from "./stream-budget.js";

/** Where an outbox writes: a WebSocket or an HTTP response (SSE). */
export interface OutboxTransport {
  /** Bytes handed to the transport that have not reached the kernel yet. */
  buffered(): number;
  /** Writes one frame; `flushed` runs once it left the process (or the transport failed). */
  write(frame: string, flushed: () => void): void;
}

export interface ClientOutboxOptions {
  /** Frames go straight to the transport while it buffers fewer bytes than this. */
  highWaterBytes: number;
  /** Frames held back while the transport is above its high water; one more overflows the client. */
  maxQueued: number;
  /** Replace a queued frame that has the same conflation key instead of queueing another. */
  conflate: boolean;
  /** The process-wide budget the outbox's bytes count against (queued and not yet flushed). */
  budget?: StreamBudget;
}

interface Entry {
  frame: string;
  bytes: number;
  key: string | undefined;
}

/**
 * The bounded send buffer of one stream client. A client that reads fast never queues; a slow one
 * queues up to `maxQueued` frames behind its socket, and one more overflows it (the caller disconnects
 * it), so a slow client costs bounded memory and never delays the others. With `conflate`, frames that
 * carry a key (latest-value data: tickers, books) replace their queued predecessor instead. The bytes
 * it holds (queued, and in the transport's buffer) count against the shared `StreamBudget`, updated
 * whenever they change here (push, flush, close), so the budget's total costs nothing to read.
 */
export class ClientOutbox {
  readonly #transport: OutboxTransport;
  readonly #options: ClientOutboxOptions;
  #queue: (Entry | undefined)[] = [];
  #head = 0;
  readonly #byKey = new Map<string, Entry>();
  #closed = false;
  #released = false;
  #conflated = 0;
  #sent = 0;
  #queuedBytes = 0;
  /** What this outbox counts in the budget now (`pendingBytes` when last looked at). */
  #counted = 0;

  constructor(transport: OutboxTransport, options: ClientOutboxOptions) {
    this.#transport = transport;
    this.#options = options;
  }

  /** Frames waiting behind the transport. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Bytes this client holds now: queued frames and what its transport buffers; 0 once released. */
  get pendingBytes(): number {
    return this.#released ? 0 : this.#queuedBytes + this.#transport.buffered();
  }

  /** Frames replaced by a newer one with the same key. */
  get conflated(): number {
    return this.#conflated;
  }

  /** Frames handed to the transport. */
  get sent(): number {
    return this.#sent;
  }

  /**
   * Sends or queues a frame. Returns `conflated` when it replaced a queued one, `overflow` when the
   * client is too slow (nothing is queued then; the caller should disconnect it), otherwise `ok`.
   */
  push(frame: string, key?: string, bytes: number = frame.length): "ok" | "conflated" | "overflow" {
    if (this.#closed) return "ok";
    if (this.queued === 0 && this.#transport.buffered() < this.#options.highWaterBytes) {
      this.#write(frame);
      this.#recount();
      return "ok";
    }
    if (this.#options.conflate && key !== undefined) {
      const pending = this.#byKey.get(key);
      if (pending !== undefined) {
        this.#queuedBytes += bytes - pending.bytes;
        pending.frame = frame;
        pending.bytes = bytes;
        this.#conflated++;
        this.#recount();
        return "conflated";
      }
    }
    if (this.queued >= this.#options.maxQueued) return "overflow";
    this.#enqueue({ frame, bytes, key: this.#options.conflate ? key : undefined });
    return "ok";
  }

  /**
   * Sends a control frame (ack, pong, error) behind everything queued. It is never conflated, and it is
   * queued even when events would be refused, up to twice `maxQueued`: past that the client sends
   * requests without reading the answers, and `overflow` says to disconnect it.
   */
  pushControl(frame: string): "ok" | "overflow" {
    if (this.#closed) return "ok";
    if (this.queued === 0 && this.#transport.buffered() < this.#options.highWaterBytes) {
      this.#write(frame);
      this.#recount();
      return "ok";
    }
    if (this.queued >= this.#options.maxQueued * 2) return "overflow";
    this.#enqueue({ frame, bytes: Buffer.byteLength(frame), key: undefined });
    return "ok";
  }

  /** Drops everything queued (its bytes go back to the budget); later pushes are ignored. */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#byKey.clear();
    this.#queuedBytes = 0;
    this.#recount();
  }

  /** The transport is gone (socket closed or destroyed), and what it buffered with it: counts 0 now. */
  release(): void {
    this.#released = true;
    this.close();
  }

  #enqueue(entry: Entry): void {
    this.#queue.push(entry);
    this.#queuedBytes += entry.bytes;
    if (entry.key !== undefined) this.#byKey.set(entry.key, entry);
    this.#recount();
  }

  #recount(): void {
    const now = this.pendingBytes;
    if (now === this.#counted) return;
    this.#options.budget?.add(now - this.#counted);
    this.#counted = now;
  }

  #write(frame: string): void {
    this.#sent++;
    this.#transport.write(frame, () => this.#pump());
  }

  #pump(): void {
    while (!this.#closed && this.queued > 0 && this.#transport.buffered() < this.#options.highWaterBytes) {
      const entry = this.#queue[this.#head];
      this.#queue[this.#head] = undefined;
      this.#head++;
      if (entry === undefined) continue;
      if (entry.key !== undefined && this.#byKey.get(entry.key) === entry) this.#byKey.delete(entry.key);
      this.#queuedBytes -= entry.bytes;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#write(entry.frame);
    }
    this.#recount();
  }
}
