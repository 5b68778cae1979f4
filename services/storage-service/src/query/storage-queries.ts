import {
  MarketScraperError,
  CandlesQuery,
  EventPage,
  EventsQuery,
  LatestQuery,
  LatestReply,
  MarketsQuery,
  MarketsReply,
  StatsQuery,
  StatsReply,
  type StorageErrorCode,
} from "@market-scraper/events";
import type { z } from "zod";
import { decodeCursor, encodeCursor } from "../store/cursor.js";
import { isoToMicros, microsToApiIso } from "../store/event-row.js";
import type { PageQuery, Store, StoredPage } from "../store/store.js";
import { StoreError, errorMessage } from "../store/store-error.js";

/** A failed query, as the `{ "error": { code, message } }` reply carries it. */
export class QueryError extends MarketScraperError<StorageErrorCode> {
  override readonly name = "QueryError";
}

/** Micro API error header codes for each error code. */
export const QUERY_ERROR_STATUS: Readonly<Record<StorageErrorCode, number>> = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export type QueryName = "events" | "latest" | "candles" | "markets" | "stats";
export const QUERY_NAMES: readonly QueryName[] = ["events", "latest", "candles", "markets", "stats"];

function parseRequest<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue === undefined || issue.path.length === 0 ? "" : `${issue.path.join(".")}: `;
  throw new QueryError("BAD_REQUEST", `${path}${issue?.message ?? "invalid request"}`, {
    cause: result.error,
  });
}

function toQueryError(err: unknown): QueryError {
  if (err instanceof QueryError) return err;
  if (err instanceof StoreError) {
    switch (err.code) {
      case "BAD_CURSOR":
        return new QueryError("BAD_REQUEST", "invalid cursor", { cause: err });
      case "UNAVAILABLE":
        return new QueryError("UNAVAILABLE", err.message, { cause: err });
      case "REJECTED":
      case "INTERNAL":
        return new QueryError("INTERNAL", err.message, { cause: err });
    }
  }
  return new QueryError("INTERNAL", errorMessage(err), { cause: err });
}

function micros(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const us = isoToMicros(iso);
  if (us === undefined) throw new QueryError("BAD_REQUEST", `unsupported timestamp ${iso}`);
  return us;
}

function range(start: string | undefined, end: string | undefined): Pick<PageQuery, "start_us" | "end_us"> {
  const start_us = micros(start);
  const end_us = micros(end);
  return {
    ...(start_us === undefined ? {} : { start_us }),
    ...(end_us === undefined ? {} : { end_us }),
  };
}

function toPage(page: StoredPage): EventPage {
  return EventPage.parse({
    data: page.events,
    next_cursor: page.next === null ? null : encodeCursor(page.next),
  });
}

export interface StorageQueriesOptions {
  /** Messages the storage consumers have not processed yet, when known. */
  consumerLag?: () => Promise<number | null>;
}

/**
 * The query API of `@market-scraper/events` `storage-api.ts` over a `Store`: requests and replies are
 * validated with its zod schemas; failures are `QueryError`s with a `StorageErrorCode`.
 */
export class StorageQueries {
  constructor(
    private readonly store: Store,
    private readonly options: StorageQueriesOptions = {},
  ) {}

  /** Runs one query from its decoded JSON request; resolves with the reply body, never rejects. */
  async handle(
    name: QueryName,
    request: unknown,
  ): Promise<{ ok: true; body: unknown } | { ok: false; error: QueryError }> {
    try {
      return { ok: true, body: await this.run(name, request) };
    } catch (err) {
      return { ok: false, error: toQueryError(err) };
    }
  }

  run(name: QueryName, request: unknown): Promise<unknown> {
    switch (name) {
      case "events":
        return this.events(request);
      case "latest":
        return this.latest(request);
      case "candles":
        return this.candles(request);
      case "markets":
        return this.markets(request);
      case "stats":
        return this.stats(request);
    }
  }

  async events(request: unknown): Promise<EventPage> {
    const q = parseRequest(EventsQuery, request);
    return toPage(
      await this.store.page({
        ...(q.stage === undefined ? {} : { stage: q.stage }),
        ...(q.event_type === undefined ? {} : { event_type: q.event_type }),
        ...(q.source === undefined ? {} : { source: q.source }),
        ...(q.symbol === undefined ? {} : { symbol: q.symbol }),
        ...range(q.start, q.end),
        ...(q.cursor === undefined ? {} : { after: decodeCursor(q.cursor) }),
        order: q.order,
        limit: q.limit,
      }),
    );
  }

  async candles(request: unknown): Promise<EventPage> {
    const q = parseRequest(CandlesQuery, request);
    return toPage(
      await this.store.page({
        stage: q.stage,
        event_type: "ohlcv",
        symbol: q.symbol,
        interval: q.interval,
        ...(q.source === undefined ? {} : { source: q.source }),
        ...range(q.start, q.end),
        ...(q.cursor === undefined ? {} : { after: decodeCursor(q.cursor) }),
        order: "asc",
        limit: q.limit,
      }),
    );
  }

  async latest(request: unknown): Promise<LatestReply> {
    const q = parseRequest(LatestQuery, request);
    const data = await this.store.latest({
      event_type: q.event_type,
      ...(q.stage === undefined ? {} : { stage: q.stage }),
      ...(q.source === undefined ? {} : { source: q.source }),
      ...(q.symbol === undefined ? {} : { symbol: q.symbol }),
    });
    return LatestReply.parse({ data });
  }

  async markets(request: unknown): Promise<MarketsReply> {
    const q = parseRequest(MarketsQuery, request);
    const rows = await this.store.markets(q.source === undefined ? {} : { source: q.source });
    return MarketsReply.parse({
      data: rows.map((m) => ({
        source: m.source,
        symbol: m.symbol,
        event_types: m.event_types,
        first_timestamp: microsToApiIso(m.first_us),
        last_timestamp: microsToApiIso(m.last_us),
      })),
    });
  }

  async stats(request: unknown): Promise<StatsReply> {
    parseRequest(StatsQuery, request);
    const [stats, lag] = await Promise.all([
      this.store.stats(),
      this.options.consumerLag?.().catch(() => null) ?? Promise.resolve(null),
    ]);
    return StatsReply.parse({
      total_events: stats.total_events,
      by_type: stats.by_type,
      oldest_timestamp: stats.oldest_us === null ? null : microsToApiIso(stats.oldest_us),
      newest_timestamp: stats.newest_us === null ? null : microsToApiIso(stats.newest_us),
      consumer_lag: lag,
    });
  }
}
