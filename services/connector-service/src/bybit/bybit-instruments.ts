import { ConnectorError } from "../framework/connector-error.js";

/** The Bybit v5 categories this connector serves: `bybit-spot` and `bybit-linear`. */
export type BybitCategory = "spot" | "linear";

/** One instrument of `/v5/market/instruments-info`: the wire name and our normalized `BASE-QUOTE`. */
export interface BybitInstrument {
  /** The exchange's name, e.g. `BTCUSDT`, `BTC-26DEC25` (kept as `raw_symbol`). */
  readonly rawSymbol: string;
  /** Normalized `BASE-QUOTE` from `baseCoin`/`quoteCoin`, e.g. `BTC-USDT`. */
  readonly symbol: string;
  readonly category: BybitCategory;
  /** `spot`, `perp` (linear perpetual) or `future` (dated linear future). */
  readonly instrument: "spot" | "perp" | "future";
  /** Delivery time of a dated future (ms), else undefined. */
  readonly expiry?: number | undefined;
}

/** One page of `instruments-info`: its instruments and the cursor of the next page (`""` = last). */
export interface InstrumentsPage {
  instruments: BybitInstrument[];
  nextPageCursor: string;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * One `instruments-info` answer → its `Trading` instruments. Throws `ConnectorError` (`EXCHANGE_ERROR`
 * for a non-zero `retCode`, `PARSE_ERROR` for a body without the documented shape); an entry that lacks
 * a symbol or its coins is skipped (counted in `skipped`).
 */
export function instrumentsFromAnswer(
  answer: unknown,
  category: BybitCategory,
): InstrumentsPage & {
  skipped: number;
} {
  const body = record(answer);
  if (body === undefined)
    throw new ConnectorError("PARSE_ERROR", "instruments-info: the answer is not an object");
  if (body.retCode !== 0) {
    throw new ConnectorError(
      "EXCHANGE_ERROR",
      `instruments-info answered retCode ${JSON.stringify(body.retCode)}: ${String(body.retMsg)}`,
    );
  }
  const result = record(body.result);
  if (result === undefined || !Array.isArray(result.list))
    throw new ConnectorError("PARSE_ERROR", "instruments-info: no result.list array");
  const instruments: BybitInstrument[] = [];
  let skipped = 0;
  for (const entry of result.list) {
    const item = record(entry);
    const rawSymbol = item?.symbol;
    const base = item?.baseCoin;
    const quote = item?.quoteCoin;
    if (
      item === undefined ||
      typeof rawSymbol !== "string" ||
      rawSymbol === "" ||
      typeof base !== "string" ||
      base === "" ||
      typeof quote !== "string" ||
      quote === ""
    ) {
      skipped += 1;
      continue;
    }
    if (item.status !== "Trading") continue;
    if (category === "spot") {
      instruments.push({ rawSymbol, symbol: `${base}-${quote}`, category, instrument: "spot" });
      continue;
    }
    const contractType = item.contractType;
    const delivery = Number(item.deliveryTime);
    if (contractType === "LinearFutures" && delivery > 0) {
      // Dated futures share base and quote with the perpetual: the expiry names them apart.
      const expiry = new Date(delivery).toISOString().slice(0, 10).replaceAll("-", "");
      instruments.push({
        rawSymbol,
        symbol: `${base}-${quote}-${expiry}`,
        category,
        instrument: "future",
        expiry: delivery,
      });
    } else {
      instruments.push({ rawSymbol, symbol: `${base}-${quote}`, category, instrument: "perp" });
    }
  }
  const cursor = result.nextPageCursor;
  return { instruments, nextPageCursor: typeof cursor === "string" ? cursor : "", skipped };
}

/** Looks instruments up by the exchange's name (`BTCUSDT`) or the normalized one (`BTC-USDT`). */
export class BybitInstruments {
  readonly #byRaw = new Map<string, BybitInstrument>();
  readonly #bySymbol = new Map<string, BybitInstrument>();

  constructor(instruments: Iterable<BybitInstrument>) {
    for (const instrument of instruments) {
      this.#byRaw.set(instrument.rawSymbol, instrument);
      // The perpetual wins a normalized name over anything else that would share it.
      const held = this.#bySymbol.get(instrument.symbol);
      if (held === undefined || (held.instrument !== "perp" && instrument.instrument === "perp"))
        this.#bySymbol.set(instrument.symbol, instrument);
    }
  }

  get size(): number {
    return this.#byRaw.size;
  }

  byRaw(rawSymbol: string): BybitInstrument | undefined {
    return this.#byRaw.get(rawSymbol);
  }

  /** A configured name, as the exchange spells it or normalized (case-insensitive). */
  resolve(name: string): BybitInstrument | undefined {
    const upper = name.trim().toUpperCase();
    return this.#byRaw.get(upper) ?? this.#bySymbol.get(upper);
  }

  /** Splits configured names into known instruments (each once) and unknown names. */
  resolveAll(names: readonly string[]): { instruments: BybitInstrument[]; unknown: string[] } {
    const instruments: BybitInstrument[] = [];
    const unknown: string[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      const instrument = this.resolve(name);
      if (instrument === undefined) unknown.push(name);
      else if (!seen.has(instrument.rawSymbol)) {
        seen.add(instrument.rawSymbol);
        instruments.push(instrument);
      }
    }
    return { instruments, unknown };
  }
}

/** True when `value` is a `BybitInstrument` (a capture's `markets` record holds them). */
export function isBybitInstrument(value: unknown): value is BybitInstrument {
  const i = record(value);
  return (
    i !== undefined &&
    typeof i.rawSymbol === "string" &&
    typeof i.symbol === "string" &&
    (i.category === "spot" || i.category === "linear") &&
    (i.instrument === "spot" || i.instrument === "perp" || i.instrument === "future")
  );
}
