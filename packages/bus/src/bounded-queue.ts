/** What a full queue does with one more item. Nothing is ever dropped without being counted. */
export type OverflowPolicy = "block" | "drop-oldest" | "drop-newest" | "error";

interface Waiter {
  promise: Promise<void>;
  resolve: () => void;
}

function waiter(): Waiter {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A FIFO ring buffer with a fixed capacity and promise-based waits for items and for space. */
export class BoundedQueue<T> {
  readonly capacity: number;
  readonly #buf: (T | undefined)[];
  #head = 0;
  #size = 0;
  #itemWaiter: Waiter | null = null;
  #spaceWaiter: Waiter | null = null;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError("queue capacity must be an integer >= 1");
    this.capacity = capacity;
    this.#buf = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.#size;
  }

  /** Adds an item; false when the queue is full. */
  push(item: T): boolean {
    if (this.#size === this.capacity) return false;
    this.#buf[(this.#head + this.#size) % this.capacity] = item;
    this.#size++;
    if (this.#itemWaiter) {
      const w = this.#itemWaiter;
      this.#itemWaiter = null;
      w.resolve();
    }
    return true;
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.capacity;
    this.#size--;
    if (this.#spaceWaiter) {
      const w = this.#spaceWaiter;
      this.#spaceWaiter = null;
      w.resolve();
    }
    return item;
  }

  /** Resolves once an item may be available (or `wake()` is called). */
  waitForItem(): Promise<void> {
    if (this.#size > 0) return Promise.resolve();
    this.#itemWaiter ??= waiter();
    return this.#itemWaiter.promise;
  }

  /** Resolves once space may be available (or `wake()` is called). */
  waitForSpace(): Promise<void> {
    if (this.#size < this.capacity) return Promise.resolve();
    this.#spaceWaiter ??= waiter();
    return this.#spaceWaiter.promise;
  }

  /** Wakes every waiter, so that loops can notice they were stopped. */
  wake(): void {
    const items = this.#itemWaiter;
    const space = this.#spaceWaiter;
    this.#itemWaiter = null;
    this.#spaceWaiter = null;
    items?.resolve();
    space?.resolve();
  }

  /** Removes and returns everything queued. */
  drain(): T[] {
    const out: T[] = [];
    while (this.#size > 0) out.push(this.shift()!);
    return out;
  }
}
