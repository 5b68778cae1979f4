/**
 * The market-data sources the system knows (ARCHITECTURE §3, §6): a source is a connector name and names
 * one market kind of one exchange, so `(source, symbol)` is exactly one instrument (`BTC-USDT` on `binance`
 * is spot, on `binance-usdm` the perpetual). Consumers (gateway, live page) use this to tell the kinds
 * apart and to show the exchange's name.
 */

/** What a source's instruments are: spot pairs or perpetual swaps. */
export type InstrumentKind = "spot" | "perpetual";
export const INSTRUMENT_KINDS: readonly InstrumentKind[] = Object.freeze(["spot", "perpetual"]);

export interface SourceInfo {
  /** The connector name, the events' `source` (`binance-usdm`). */
  readonly name: string;
  /** The kind of the source's instruments (Hyperliquid: its perps; spot pairs are told by symbol). */
  readonly kind: InstrumentKind;
  /** The exchange (`Binance`). */
  readonly exchange: string;
  /** How a person reads the source (`Binance USDⓈ-M perpetuals`). */
  readonly display_name: string;
}

function source(name: string, kind: InstrumentKind, exchange: string, display_name: string): SourceInfo {
  return Object.freeze({ name, kind, exchange, display_name });
}

/** Every source name, in the order ARCHITECTURE §6 lists the connectors. */
export const SOURCES: Readonly<Record<string, SourceInfo>> = Object.freeze({
  hyperliquid: source("hyperliquid", "perpetual", "Hyperliquid", "Hyperliquid"),
  binance: source("binance", "spot", "Binance", "Binance spot"),
  "binance-usdm": source("binance-usdm", "perpetual", "Binance", "Binance USDⓈ-M perpetuals"),
  "bybit-spot": source("bybit-spot", "spot", "Bybit", "Bybit spot"),
  "bybit-linear": source("bybit-linear", "perpetual", "Bybit", "Bybit linear perpetuals"),
  okx: source("okx", "spot", "OKX", "OKX spot"),
  "okx-swap": source("okx-swap", "perpetual", "OKX", "OKX perpetual swaps"),
  coinbase: source("coinbase", "spot", "Coinbase", "Coinbase spot"),
  kraken: source("kraken", "spot", "Kraken", "Kraken spot"),
});

export const SOURCE_NAMES: readonly string[] = Object.freeze(Object.keys(SOURCES));

/** The registry entry of a source; `undefined` for a name it does not know (a test source, `replay`…). */
export function sourceInfo(name: string): SourceInfo | undefined {
  return Object.hasOwn(SOURCES, name) ? SOURCES[name] : undefined;
}

/**
 * The kind of the instrument `(source, symbol)`; `undefined` for an unknown source. Hyperliquid carries
 * perps and spot pairs under one source: its perps are always named `<coin>-USD` (they settle in USDC
 * but are quoted in USD), its spot pairs by their two tokens (`PURR-USDC`, `HYPE-USDC`).
 */
export function instrumentKindOf(sourceName: string, symbol: string): InstrumentKind | undefined {
  const info = sourceInfo(sourceName);
  if (info === undefined) return undefined;
  if (info.name === "hyperliquid") return symbol.endsWith("-USD") ? "perpetual" : "spot";
  return info.kind;
}
