import {
  ConnectorStatusPayload,
  DEFAULT_PAGE_LIMIT,
  type EventType,
  type StandardEvent,
  instrumentKindOf,
  isMarketDataType,
  sourceInfo,
} from "@market-scraper/events";
import type { z } from "zod";
import type { StorageClient } from "../storage/storage-client.js";
import {
  type ConnectorStatusEntry,
  ConnectorsParams,
  ConnectorsResponse,
  EventPageResponse,
  EventResponse,
  EventsParams,
  LatestParams,
  MarketsParams,
  MarketsResponse,
  OhlcvParams,
  SymbolPath,
  TradesParams,
} from "./api-schemas.js";
import { GatewayError, type GatewayErrorCode } from "./gateway-error.js";
import { compact } from "./parse-input.js";

export interface RouteContext {
  readonly storage: StorageClient;
}

/** One REST endpoint: its schemas (validation and OpenAPI) and its handler. */
export interface ApiRoute {
  readonly operationId: string;
  /** OpenAPI form, e.g. `/v1/markets/{symbol}/trades`. */
  readonly path: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  readonly params?: z.ZodType;
  readonly query: z.ZodType;
  readonly response: z.ZodType;
  /** Error codes this endpoint may answer with besides the ones every `/v1` route has. */
  readonly errors: readonly GatewayErrorCode[];
  readonly handle: (input: { params: unknown; query: unknown }, ctx: RouteContext) => Promise<unknown>;
}

function route<P extends z.ZodType | undefined, Q extends z.ZodType>(definition: {
  operationId: string;
  path: string;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query: Q;
  response: z.ZodType;
  errors: readonly GatewayErrorCode[];
  handle: (
    input: { params: P extends z.ZodType ? z.output<P> : undefined; query: z.output<Q> },
    ctx: RouteContext,
  ) => Promise<unknown>;
}): ApiRoute {
  return definition as unknown as ApiRoute;
}

const HISTORY_ERRORS: readonly GatewayErrorCode[] = ["BAD_REQUEST", "STORAGE_ERROR", "STORAGE_UNAVAILABLE"];

function newest(events: readonly StandardEvent[]): StandardEvent | undefined {
  let best: StandardEvent | undefined;
  for (const event of events)
    if (best === undefined || Date.parse(event.timestamp) > Date.parse(best.timestamp)) best = event;
  return best;
}

async function latestOf(
  eventType: "ticker" | "order_book",
  symbol: string,
  query: z.output<typeof LatestParams>,
  ctx: RouteContext,
): Promise<{ data: StandardEvent }> {
  const reply = await ctx.storage.latest(
    compact({ event_type: eventType, symbol, source: query.source, stage: query.stage }),
  );
  const event = newest(reply.data);
  const what = eventType === "ticker" ? "ticker" : "order book";
  if (event === undefined) {
    const from = query.source === undefined ? "" : ` from ${query.source}`;
    throw new GatewayError("NOT_FOUND", `no ${what} for ${symbol}${from}`);
  }
  return { data: event };
}

/**
 * `/v1/events`' stage when none is given: for a market-data type (trade, ticker, order_book, ohlcv,
 * liquidation, derivative_ticker),
 * `processed`, one row per event as the `/v1/markets/{symbol}/…` routes answer (the raw copy of each is
 * also stored, under `market`); for any other type or none, every stage.
 */
function defaultEventsStage(eventType: EventType | undefined): "processed" | undefined {
  return eventType !== undefined && isMarketDataType(eventType) ? "processed" : undefined;
}

/** A field of a loose payload the connector may add: its text when it is a non-empty string, else null. */
function optionalText(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** Connector statuses read back per (source, connector, channel): enough for hundreds of connectors. */
const CONNECTOR_SCAN = 1000;

export const API_ROUTES: readonly ApiRoute[] = [
  route({
    operationId: "listEvents",
    path: "/v1/events",
    summary: "Stored events by filter, with cursor pagination",
    description:
      "Every stored event matching the filter. Pages hold `limit` events; pass `next_cursor` as `cursor` " +
      "with the same filter for the next one (null on the last page). Market data is stored twice: as " +
      "the connectors published it (`stage=market`) and as the processors passed it on (`processed`). " +
      "With a market-data `event_type` (trade, ticker, order_book, ohlcv, liquidation, " +
      "derivative_ticker) and no `stage`, only " +
      "`processed` events are returned, one per trade; pass `stage=market` for the raw ones. Without " +
      "`event_type` and `stage`, every stage is returned, so a trade appears once per stage.",
    tag: "history",
    query: EventsParams,
    response: EventPageResponse,
    errors: HISTORY_ERRORS,
    handle: ({ query }, ctx) =>
      ctx.storage.events(
        compact({
          ...query,
          stage: query.stage ?? defaultEventsStage(query.event_type),
          limit: query.limit ?? DEFAULT_PAGE_LIMIT,
        }),
      ),
  }),
  route({
    operationId: "listMarkets",
    path: "/v1/markets",
    summary: "Markets (source, symbol) seen, with their kind and latest ticker",
    description:
      "Every (source, symbol) with stored market data, of every source: `(source, symbol)` names one " +
      "instrument (`BTC-USDT` on `binance` is spot, on `binance-usdm` the perpetual), `kind` says which.",
    tag: "markets",
    query: MarketsParams,
    response: MarketsResponse,
    errors: HISTORY_ERRORS,
    handle: async ({ query }, ctx) => {
      const [markets, tickers] = await Promise.all([
        ctx.storage.markets(compact({ source: query.source })),
        ctx.storage.latest(compact({ event_type: "ticker" as const, source: query.source })),
      ]);
      const bySymbol = new Map<string, StandardEvent>();
      for (const ticker of tickers.data) {
        const symbol = (ticker.payload as { symbol?: unknown }).symbol;
        if (typeof symbol === "string") bySymbol.set(`${ticker.source}\u0000${symbol}`, ticker);
      }
      return {
        data: markets.data.map((m) => {
          const info = sourceInfo(m.source);
          return {
            ...m,
            kind: instrumentKindOf(m.source, m.symbol) ?? null,
            exchange: info?.exchange ?? null,
            source_display_name: info?.display_name ?? null,
            ticker: bySymbol.get(`${m.source}\u0000${m.symbol}`) ?? null,
          };
        }),
        next_cursor: null,
      };
    },
  }),
  route({
    operationId: "listTrades",
    path: "/v1/markets/{symbol}/trades",
    summary: "Trades of a symbol",
    description: "Processed trades (validated and de-duplicated) unless `stage=market`.",
    tag: "markets",
    params: SymbolPath,
    query: TradesParams,
    response: EventPageResponse,
    errors: HISTORY_ERRORS,
    handle: ({ params, query }, ctx) =>
      ctx.storage.events(
        compact({
          ...query,
          event_type: "trade" as const,
          symbol: params.symbol,
          stage: query.stage ?? "processed",
          limit: query.limit ?? DEFAULT_PAGE_LIMIT,
        }),
      ),
  }),
  route({
    operationId: "listCandles",
    path: "/v1/markets/{symbol}/ohlcv",
    summary: "OHLCV candles of a symbol",
    description:
      "Candles of one `interval` (default 1m), oldest first. `stage=processed` (default): the processors' " +
      "candles built from trades; `stage=market`: the exchange's own candles.",
    tag: "markets",
    params: SymbolPath,
    query: OhlcvParams,
    response: EventPageResponse,
    errors: HISTORY_ERRORS,
    handle: ({ params, query }, ctx) =>
      ctx.storage.candles(
        compact({
          ...query,
          symbol: params.symbol,
          interval: query.interval ?? "1m",
          stage: query.stage ?? "processed",
          limit: query.limit ?? DEFAULT_PAGE_LIMIT,
        }),
      ),
  }),
  route({
    operationId: "getTicker",
    path: "/v1/markets/{symbol}/ticker",
    summary: "Latest ticker of a symbol",
    description:
      "The newest ticker of the symbol: of `source` when given (one instrument), else of any source.",
    tag: "markets",
    params: SymbolPath,
    query: LatestParams,
    response: EventResponse,
    errors: [...HISTORY_ERRORS, "NOT_FOUND"],
    handle: ({ params, query }, ctx) => latestOf("ticker", params.symbol, query, ctx),
  }),
  route({
    operationId: "getOrderBook",
    path: "/v1/markets/{symbol}/orderbook",
    summary: "Latest order book of a symbol",
    description:
      "The newest order book of the symbol: of `source` when given (one instrument; pass it, as the " +
      "same symbol is listed by several sources), else of any source. `payload.bids` / `payload.asks` " +
      "hold the depth, `[price, size]` best first (up to the connector's `<NAME>_BOOK_DEPTH` levels); " +
      "`payload.sequence` is the exchange's sequence of the last update in it. Books of one millisecond " +
      "are ordered by that sequence.",
    tag: "markets",
    params: SymbolPath,
    query: LatestParams,
    response: EventResponse,
    errors: [...HISTORY_ERRORS, "NOT_FOUND"],
    handle: ({ params, query }, ctx) => latestOf("order_book", params.symbol, query, ctx),
  }),
  route({
    operationId: "listConnectors",
    path: "/v1/connectors",
    summary: "Connector status, from the latest connector_status event of each connector and channel",
    tag: "connectors",
    query: ConnectorsParams,
    response: ConnectorsResponse,
    errors: HISTORY_ERRORS,
    handle: async ({ query }, ctx) => {
      const page = await ctx.storage.events(
        compact({
          event_type: "connector_status" as const,
          source: query.source,
          order: "desc" as const,
          limit: CONNECTOR_SCAN,
        }),
      );
      const latest = new Map<string, ConnectorStatusEntry>();
      for (const event of page.data) {
        const payload = ConnectorStatusPayload.safeParse(event.payload);
        if (!payload.success) continue;
        const p = payload.data;
        const key = `${event.source}\u0000${p.connector}\u0000${p.channel ?? ""}`;
        if (latest.has(key)) continue; // newest first: the first one seen wins
        latest.set(key, {
          source: event.source,
          connector: p.connector,
          status: p.status,
          previous_status: p.previous_status ?? null,
          message: p.message ?? null,
          channel: p.channel ?? null,
          symbols: p.symbols ?? null,
          last_error: optionalText(p.last_error),
          last_error_at: optionalText(p.last_error_at),
          timestamp: event.timestamp,
          event_id: event.event_id,
        });
      }
      const data = [...latest.values()].sort(
        (a, b) =>
          a.source.localeCompare(b.source) ||
          a.connector.localeCompare(b.connector) ||
          (a.channel ?? "").localeCompare(b.channel ?? ""),
      );
      return { data, next_cursor: null };
    },
  }),
];
