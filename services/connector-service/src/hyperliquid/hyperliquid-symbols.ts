import { ConnectorError } from "../framework/connector-error.js";

/** One tradable Hyperliquid market: the coin used on the wire and our normalized `BASE-QUOTE`. */
export interface HyperliquidMarket {
  /** The exchange's name, e.g. `BTC`, `PURR/USDC`, `@107` (kept as `raw_symbol`). */
  readonly coin: string;
  /** Normalized symbol, e.g. `BTC-USD`, `PURR-USDC`, `HYPE-USDC`. */
  readonly symbol: string;
  readonly kind: "perp" | "spot";
}

interface MetaAnswer {
  universe?: unknown;
}

interface SpotMetaAnswer {
  tokens?: unknown;
  universe?: unknown;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
}

/**
 * The markets of `meta` (perps: `BTC` → `BTC-USD`; builder perps `xyz:SP500` → `xyz:SP500-USD`) and
 * `spotMeta` (`PURR/USDC` → `PURR-USDC`; `@107` → the names of its tokens, e.g. `HYPE-USDC`).
 * Throws `ConnectorError` (`PARSE_ERROR`) when an answer does not have the documented shape.
 */
export function marketsFromMeta(meta: unknown, spotMeta: unknown): HyperliquidMarket[] {
  const markets: HyperliquidMarket[] = [];
  const perps = record(meta) as MetaAnswer | undefined;
  if (!Array.isArray(perps?.universe)) throw new ConnectorError("PARSE_ERROR", "meta: no universe array");
  for (const entry of perps.universe) {
    const name = record(entry)?.name;
    if (typeof name !== "string" || name === "") continue;
    if (record(entry)?.isDelisted === true) continue;
    markets.push({ coin: name, symbol: `${name}-USD`, kind: "perp" });
  }
  const spot = record(spotMeta) as SpotMetaAnswer | undefined;
  if (spot === undefined) return markets;
  if (!Array.isArray(spot.tokens) || !Array.isArray(spot.universe)) {
    throw new ConnectorError("PARSE_ERROR", "spotMeta: no tokens/universe arrays");
  }
  const tokenNames = new Map<number, string>();
  for (const token of spot.tokens) {
    const t = record(token);
    if (typeof t?.index === "number" && typeof t.name === "string") tokenNames.set(t.index, t.name);
  }
  for (const pair of spot.universe) {
    const p = record(pair);
    const name = p?.name;
    if (typeof name !== "string" || name === "") continue;
    let symbol: string | undefined;
    if (name.includes("/")) symbol = name.replace("/", "-");
    else if (Array.isArray(p?.tokens) && p.tokens.length === 2) {
      const base = tokenNames.get(p.tokens[0] as number);
      const quote = tokenNames.get(p.tokens[1] as number);
      if (base !== undefined && quote !== undefined) symbol = `${base}-${quote}`;
    }
    if (symbol !== undefined) markets.push({ coin: name, symbol, kind: "spot" });
  }
  return markets;
}

/** Looks markets up by coin (`BTC`, `@107`, `PURR/USDC`) or by normalized symbol (`BTC-USD`). */
export class HyperliquidSymbols {
  readonly #byCoin = new Map<string, HyperliquidMarket>();
  readonly #bySymbol = new Map<string, HyperliquidMarket>();

  constructor(markets: readonly HyperliquidMarket[]) {
    for (const market of markets) {
      this.#byCoin.set(market.coin, market);
      // Perps win over a spot pair of the same normalized name (there is none today).
      if (!this.#bySymbol.has(market.symbol) || market.kind === "perp")
        this.#bySymbol.set(market.symbol, market);
    }
  }

  get size(): number {
    return this.#byCoin.size;
  }

  byCoin(coin: string): HyperliquidMarket | undefined {
    return this.#byCoin.get(coin);
  }

  /** A configured name: a coin as the exchange spells it, or a normalized symbol. */
  resolve(name: string): HyperliquidMarket | undefined {
    return this.#byCoin.get(name) ?? this.#bySymbol.get(name);
  }

  /** Splits configured names into known markets and unknown names (never subscribed: see §1.4). */
  resolveAll(names: readonly string[]): { markets: HyperliquidMarket[]; unknown: string[] } {
    const markets: HyperliquidMarket[] = [];
    const unknown: string[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      const market = this.resolve(name);
      if (market === undefined) unknown.push(name);
      else if (!seen.has(market.coin)) {
        seen.add(market.coin);
        markets.push(market);
      }
    }
    return { markets, unknown };
  }
}
