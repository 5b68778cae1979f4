/**
 * The trades one stream (one symbol) has published, so a snapshot re-sent after a reconnect never
 * yields a second event for the same trade. A trade is `(id, time)` (Hyperliquid: `tid` and block
 * time; the stream is the coin). The last `capacity` trades are kept in typed arrays (a ring, oldest
 * overwritten first) indexed by an open-addressing hash table: a fixed ~40 bytes per trade, and nothing
 * allocated per trade, so remembering trades costs the garbage collector nothing. Ids that are not safe
 * integers (other exchanges' string ids) go to a bounded `Set`.
 */
export class DedupStream {
  readonly #owner: TradeDeduplicator;
  readonly #capacity: number;
  // Start small and double up to `capacity` (a quiet symbol stays small); the ring only wraps once full.
  #ids: Float64Array;
  #times: Float64Array;
  /** Ring position + 1 of the trade in each slot; 0 = empty. Linear probing, at most half full. */
  #slots: Int32Array;
  #mask: number;
  #head = 0;
  #count = 0;
  #others: Set<string> | undefined;

  constructor(owner: TradeDeduplicator, capacity: number) {
    this.#owner = owner;
    this.#capacity = capacity;
    const initial = Math.min(capacity, 256);
    this.#ids = new Float64Array(initial);
    this.#times = new Float64Array(initial);
    this.#slots = new Int32Array(tableSize(initial));
    this.#mask = this.#slots.length - 1;
  }

  #grow(): void {
    const length = Math.min(this.#capacity, this.#ids.length * 2);
    const ids = new Float64Array(length);
    const times = new Float64Array(length);
    ids.set(this.#ids.subarray(0, this.#count));
    times.set(this.#times.subarray(0, this.#count));
    this.#ids = ids;
    this.#times = times;
    this.#slots = new Int32Array(tableSize(length));
    this.#mask = this.#slots.length - 1;
    for (let position = 0; position < this.#count; position += 1) {
      let i = hash(ids[position]!, times[position]!) & this.#mask;
      while (this.#slots[i] !== 0) i = (i + 1) & this.#mask;
      this.#slots[i] = position + 1;
    }
  }

  /** Trades remembered. */
  get size(): number {
    return this.#count + (this.#others?.size ?? 0);
  }

  /** True the first time `(id, time)` is offered (and remembers it); false for a duplicate. */
  firstSeen(id: string | number, time = 0): boolean {
    if (typeof id !== "number" || !(id >= 0 && id <= Number.MAX_SAFE_INTEGER) || Math.floor(id) !== id) {
      return this.#firstSeenOther(`${time}|${id}`);
    }
    const slots = this.#slots;
    const ids = this.#ids;
    const times = this.#times;
    const mask = this.#mask;
    for (let i = hash(id, time) & mask; ; i = (i + 1) & mask) {
      const s = slots[i]!;
      if (s === 0) break;
      if (ids[s - 1] === id && times[s - 1] === time) {
        this.#owner.duplicates += 1;
        return false;
      }
    }
    let position: number;
    if (this.#count < this.#capacity) {
      if (this.#count === this.#ids.length) {
        this.#grow();
        return this.#insert(id, time, this.#count++);
      }
      position = this.#count;
      this.#count += 1;
    } else {
      position = this.#head; // the oldest trade makes room
      this.#head = (this.#head + 1) % this.#capacity;
      this.#unlink(position);
    }
    return this.#insert(id, time, position);
  }

  #insert(id: number, time: number, position: number): true {
    this.#ids[position] = id;
    this.#times[position] = time;
    const mask = this.#mask;
    let i = hash(id, time) & mask;
    while (this.#slots[i] !== 0) i = (i + 1) & mask;
    this.#slots[i] = position + 1;
    return true;
  }

  /** Removes ring position `position` from the table (backward-shift deletion keeps probing exact). */
  #unlink(position: number): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let j = hash(this.#ids[position]!, this.#times[position]!) & mask;
    while (slots[j] !== position + 1) j = (j + 1) & mask;
    for (;;) {
      slots[j] = 0;
      let i = j;
      for (;;) {
        i = (i + 1) & mask;
        const s = slots[i]!;
        if (s === 0) return;
        const home = hash(this.#ids[s - 1]!, this.#times[s - 1]!) & mask;
        // The entry at i may stay if its home lies cyclically in (j, i]; otherwise it moves to j.
        const stays = j <= i ? j < home && home <= i : j < home || home <= i;
        if (stays) continue;
        slots[j] = s;
        j = i;
        break;
      }
    }
  }

  #firstSeenOther(key: string): boolean {
    const others = (this.#others ??= new Set());
    if (others.has(key)) {
      this.#owner.duplicates += 1;
      return false;
    }
    others.add(key);
    if (others.size > this.#capacity) {
      const oldest = others.values().next().value;
      if (oldest !== undefined) others.delete(oldest);
    }
    return true;
  }
}

/** A power of two at least twice `entries` (the table stays at most half full). */
function tableSize(entries: number): number {
  let size = 8;
  while (size < entries * 2) size *= 2;
  return size;
}

/** Mixes a safe-integer id and a time into 32 bits. */
function hash(id: number, time: number): number {
  const lo = id >>> 0;
  const hi = (id / 4_294_967_296) | 0;
  let h = Math.imul(lo ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(hi ^ (time >>> 0), 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x27d4eb2d);
  h ^= h >>> 13;
  return h >>> 0;
}

/** Trade de-duplication for a connector: one bounded `DedupStream` per symbol. */
export class TradeDeduplicator {
  readonly #capacity: number;
  readonly #streams = new Map<string, DedupStream>();
  /** Trades dropped as duplicates so far. */
  duplicates = 0;

  /** `capacityPerStream`: trades remembered per symbol (the last ones; ~40 bytes each, allocated up front). */
  constructor(capacityPerStream = 20_000) {
    if (!(capacityPerStream >= 1)) throw new RangeError("capacity must be at least 1");
    this.#capacity = capacityPerStream;
  }

  /** The memory of one stream; keep it at hand to skip this lookup per trade. */
  stream(name: string): DedupStream {
    let stream = this.#streams.get(name);
    if (stream === undefined) {
      stream = new DedupStream(this, this.#capacity);
      this.#streams.set(name, stream);
    }
    return stream;
  }

  /** `stream(name).firstSeen(id, time)`. */
  firstSeen(name: string, id: string | number, time = 0): boolean {
    return this.stream(name).firstSeen(id, time);
  }
}
