import { ConnectorError } from "../framework/connector-error.js";

/** Which Binance market a connector reads: spot (`api.binance.com`) or USDⓈ-M perpetuals (`fapi`). */
export type BinanceMarketKind = "spot" | "usdm";

/** One tradable Binance instrument: the exchange's name and our normalized `BASE-QUOTE`. */
export interface BinanceMarket {
  /** The exchange's name, e.g. `BTCUSDT` (kept as `raw_symbol`; streams use it lowercased). */
  readonly rawSymbol: string;
  /** Normalized symbol, e.g. `BTC-USDT`. */
  readonly symbol: string;
  readonly base: string;
  readonly quote: string;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

const ASSET = /^[A-Za-z0-9]{1,32}$/;

/**
 * The instruments of an `exchangeInfo` answer (`/api/v3/exchangeInfo` or `/fapi/v1/exchangeInfo`) that
 * trade now (`status` `TRADING`); on USDⓈ-M only perpetuals (`contractType` `PERPETUAL`: dated
 * quarterlies such as `BTCUSDT_250627` are another instrument kind). `BTCUSDT` (base BTC, quote USDT)
 * → `BTC-USDT`. Throws `ConnectorError` (`PARSE_ERROR`) when the answer has no `symbols` array.
 */
export function marketsFromExchangeInfo(info: unknown, kind: BinanceMarketKind): BinanceMarket[] {
  const symbols = record(info)?.symbols;
  if (!Array.isArray(symbols)) throw new ConnectorError("PARSE_ERROR", "exchangeInfo: no symbols array");
  const markets: BinanceMarket[] = [];
  for (const entry of symbols) {
    const s = record(entry);
    if (s === undefined) continue;
    const { symbol, status, baseAsset, quoteAsset, contractType } = s;
    if (typeof symbol !== "string" || !/^[A-Z0-9_]{2,64}$/.test(symbol)) continue;
    if (typeof baseAsset !== "string" || typeof quoteAsset !== "string") continue;
    if (!ASSET.test(baseAsset) || !ASSET.test(quoteAsset)) continue;
    if (status !== "TRADING") continue;
    if (kind === "usdm" && contractType !== "PERPETUAL") continue;
    markets.push({
      rawSymbol: symbol,
      symbol: `${baseAsset}-${quoteAsset}`,
      base: baseAsset,
      quote: quoteAsset,
    });
  }
  return markets;
}

/** Looks instruments up by the exchange's name (`BTCUSDT`, any case) or the normalized one (`BTC-USDT`). */
export class BinanceSymbols {
  readonly #byRaw = new Map<string, BinanceMarket>();
  readonly #bySymbol = new Map<string, BinanceMarket>();

  constructor(markets: Iterable<BinanceMarket>) {
    for (const market of markets) {
      this.#byRaw.set(market.rawSymbol, market);
      this.#bySymbol.set(market.symbol, market);
    }
  }

  get size(): number {
    return this.#byRaw.size;
  }

  byRaw(rawSymbol: string): BinanceMarket | undefined {
    return this.#byRaw.get(rawSymbol);
  }

  /** A configured name: `BTCUSDT`, `btcusdt` or `BTC-USDT`. */
  resolve(name: string): BinanceMarket | undefined {
    const upper = name.trim().toUpperCase();
    return this.#byRaw.get(upper) ?? this.#bySymbol.get(upper);
  }

  /** Splits configured names into listed instruments (once each) and names the exchange does not list. */
  resolveAll(names: readonly string[]): { markets: BinanceMarket[]; unknown: string[] } {
    const markets: BinanceMarket[] = [];
    const unknown: string[] = [];
    const seen = new Set<string>();
    for (const name of names) {
      const market = this.resolve(name);
      if (market === undefined) unknown.push(name);
      else if (!seen.has(market.rawSymbol)) {
        seen.add(market.rawSymbol);
        markets.push(market);
      }
    }
    return { markets, unknown };
  }
}
