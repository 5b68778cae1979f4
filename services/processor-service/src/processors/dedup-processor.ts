import type { EventBus } from "@market-scraper/bus";
import { type EventType, type StandardEvent, EventType as Types } from "@market-scraper/events";
import { z } from "zod";
import { Processor, type ProcessorOptions } from "../processor.js";
import { ProcessorError } from "../processor-error.js";

export interface DedupOptions extends ProcessorOptions {
  /** Trade keys remembered per (source, symbol); the oldest is forgotten first. Default 1,000. */
  window?: number;
}

/** The types de-duplicated by event id: the connectors derive it from what the exchange sent. */
const BY_EVENT_ID = [Types.LIQUIDATION, Types.DERIVATIVE_TICKER] as const;
type DedupType = (typeof BY_EVENT_ID)[number];

/**
 * Event ids remembered per (source, symbol) and type, at most: a UUID costs twice a trade id in the
 * checkpoint, which must fit one NATS message beside a 20,000-trade window; 2,000 tickers are minutes of
 * the busiest stream (Bybit: 10/s), far more than a reconnect or a replay repeats.
 */
export const MAX_EVENT_ID_WINDOW = 2000;

const DedupStateSchema = z.object({
  keys: z.array(z.string()),
  by_type: z
    .object({
      [Types.LIQUIDATION]: z.array(z.string()).optional(),
      [Types.DERIVATIVE_TICKER]: z.array(z.string()).optional(),
    })
    .optional(),
});

/**
 * Checkpointed form: the remembered keys, oldest first; `keys` are the trades' (the form before other
 * types were de-duplicated, so older checkpoints load), `by_type` the other types' event ids.
 */
export type DedupState = z.infer<typeof DedupStateSchema>;

/**
 * Drops repeats of the same trade: same source and symbol, and the same `trade_id` — or, for a trade
 * without one, the same content (price, volume, time, side). Liquidations and derivative tickers are
 * dropped when their `event_id` repeats (deterministic, from the exchange's data: a reconnect or replay
 * sends the same id again). Remembers the last `window` trades and the last min(`window`,
 * `MAX_EVENT_ID_WINDOW`) ids of each other type per (source, symbol), so a busy type never pushes
 * another's keys out; a repeat older than that passes.
 */
export class DedupProcessor extends Processor {
  override readonly eventTypes: readonly EventType[] = [Types.TRADE, ...BY_EVENT_ID];
  readonly window: number;
  /** The window of the types de-duplicated by event id. */
  readonly idWindow: number;
  readonly #seen = new Map<string, Set<string>>();
  #duplicates = 0;

  constructor(bus: EventBus | null = null, options: DedupOptions = {}) {
    super(bus, { name: "dedup", ...options });
    this.window = options.window ?? 1000;
    if (!Number.isInteger(this.window) || this.window < 1)
      throw new ProcessorError("INVALID_OPTION", "dedup window must be an integer ≥ 1");
    this.idWindow = Math.min(this.window, MAX_EVENT_ID_WINDOW);
  }

  override get stateful(): boolean {
    return true;
  }

  /** Events dropped as repeats. */
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
    let key: string;
    let window = this.idWindow;
    switch (event.event_type) {
      case Types.TRADE:
        key = DedupProcessor.tradeKey(event);
        window = this.window;
        break;
      case Types.LIQUIDATION:
      case Types.DERIVATIVE_TICKER:
        key = event.event_id;
        break;
      default:
        return event;
    }
    const seen = this.#setFor(event.source, event.payload.symbol, event.event_type);
    if (seen.has(key)) {
      this.#duplicates++;
      return null;
    }
    seen.add(key);
    if (seen.size > window) seen.delete(seen.values().next().value!);
    return event;
  }

  #setFor(source: string, symbol: string, type: EventType): Set<string> {
    const k = setKey(source, symbol, type);
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
    const trades = this.#seen.get(setKey(source, symbol, Types.TRADE));
    const byType: Partial<Record<DedupType, string[]>> = {};
    let any = trades !== undefined && trades.size > 0;
    for (const type of BY_EVENT_ID) {
      const set = this.#seen.get(setKey(source, symbol, type));
      if (set === undefined || set.size === 0) continue;
      byType[type] = [...set];
      any = true;
    }
    if (!any) return undefined;
    return BY_EVENT_ID.some((type) => byType[type] !== undefined)
      ? { keys: [...(trades ?? [])], by_type: byType }
      : { keys: [...(trades ?? [])] };
  }

  override importState(source: string, symbol: string, state: unknown): void {
    const s = state as Partial<DedupState> | null;
    const byType = (typeof s?.by_type === "object" && s.by_type !== null ? s.by_type : {}) as Record<
      string,
      unknown
    >;
    this.#restore(source, symbol, Types.TRADE, s?.keys);
    for (const type of BY_EVENT_ID) this.#restore(source, symbol, type, byType[type]);
  }

  #restore(source: string, symbol: string, type: EventType, keys: unknown): void {
    if (!Array.isArray(keys)) {
      this.#seen.delete(setKey(source, symbol, type));
      return;
    }
    const set = this.#setFor(source, symbol, type);
    set.clear();
    for (const key of keys.slice(type === Types.TRADE ? -this.window : -this.idWindow))
      if (typeof key === "string") set.add(key);
  }
}

function setKey(source: string, symbol: string, type: EventType): string {
  return `${source}\u0000${symbol}\u0000${type}`;
}
