import type { EventBus } from "@market-scraper/bus";
import { type EventType, type StandardEvent, EventType as Types } from "@market-scraper/events";
import { z } from "zod";
import { Processor, type ProcessorOptions } from "../processor.js";
import { ProcessorError } from "../processor-error.js";

export interface DedupOptions extends ProcessorOptions {
  /** Trade keys remembered per (source, symbol); the oldest is forgotten first. Default 1,000. */
  window?: number;
}

/** Checkpointed form: the remembered keys, oldest first. */
export interface DedupState {
  keys: string[];
}

const DedupStateSchema = z.object({ keys: z.array(z.string()) });

/**
 * Drops repeats of the same trade: same source and symbol, and the same `trade_id` — or, for a trade
 * without one, the same content (price, volume, time, side). Remembers the last `window` trades per
 * (source, symbol), so memory is bounded by window × symbols; a repeat older than that passes.
 */
export class DedupProcessor extends Processor {
  override readonly eventTypes: readonly EventType[] = [Types.TRADE];
  readonly window: number;
  readonly #seen = new Map<string, Set<string>>();
  #duplicates = 0;

  constructor(bus: EventBus | null = null, options: DedupOptions = {}) {
    super(bus, { name: "dedup", ...options });
    this.window = options.window ?? 1000;
    if (!Number.isInteger(this.window) || this.window < 1)
      throw new ProcessorError("INVALID_OPTION", "dedup window must be an integer ≥ 1");
  }

  override get stateful(): boolean {
    return true;
  }

  /** Trades dropped as repeats. */
  get duplicates(): number {
    return this.#duplicates;
  }

  static tradeKey(event: StandardEvent<"trade">): string {
    const p = event.payload;
    return p.trade_id !== undefined
      ? `id:${p.trade_id}`
      : `c:${p.price}|${p.volume}|${p.timestamp}|${p.side ?? ""}`;
  }

  override process(event: StandardEvent): StandardEvent | null {
    if (event.event_type !== Types.TRADE) return event;
    const seen = this.#setFor(event.source, event.payload.symbol);
    const key = DedupProcessor.tradeKey(event);
    if (seen.has(key)) {
      this.#duplicates++;
      return null;
    }
    seen.add(key);
    if (seen.size > this.window) seen.delete(seen.values().next().value!);
    return event;
  }

  #setFor(source: string, symbol: string): Set<string> {
    const k = `${source}\u0000${symbol}`;
    let set = this.#seen.get(k);
    if (!set) {
      set = new Set();
      this.#seen.set(k, set);
    }
    return set;
  }

  override get stateSchema(): z.ZodType<DedupState> {
    return DedupStateSchema;
  }

  override exportState(source: string, symbol: string): DedupState | undefined {
    const set = this.#seen.get(`${source}\u0000${symbol}`);
    return set && set.size > 0 ? { keys: [...set] } : undefined;
  }

  override importState(source: string, symbol: string, state: unknown): void {
    const keys = (state as Partial<DedupState> | null)?.keys;
    if (!Array.isArray(keys)) {
      this.#seen.delete(`${source}\u0000${symbol}`);
      return;
    }
    const set = this.#setFor(source, symbol);
    set.clear();
    for (const key of keys.slice(-this.window)) if (typeof key === "string") set.add(key);
  }
}
