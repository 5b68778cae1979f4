import {
  ConnectorState,
  DEFAULT_PAGE_LIMIT,
  EVENT_TYPES,
  EventPage,
  type EventType,
  INSTRUMENT_KINDS,
  type InstrumentKind,
  Interval,
  MAX_PAGE_LIMIT,
  Market,
  STAGES,
  type Stage,
  StandardEventSchema,
} from "@market-scraper/events";
import { z } from "zod";
import { ERROR_CODES, type GatewayErrorCode } from "./gateway-error.js";

/**
 * The zod schemas of the HTTP API: query strings and path parameters as they arrive (strings), and the
 * response bodies. Route handlers validate with them and `/openapi.json` is generated from them, so the
 * document cannot drift from the code. Query objects are strict: an unknown parameter is a 400.
 */

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const dateTime = z.iso.datetime({ offset: true });

/** ISO-8601 date-time (`Z` or an offset) or a date (midnight UTC) → a UTC `…Z` string; undefined if invalid. */
export function normalizeTime(raw: string): string | undefined {
  const date = ISO_DATE.exec(raw);
  if (date !== null) {
    const ms = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]));
    const back = new Date(ms);
    if (back.getUTCMonth() !== Number(date[2]) - 1 || back.getUTCDate() !== Number(date[3])) return undefined;
    return `${raw}T00:00:00Z`;
  }
  if (!dateTime.safeParse(raw).success) return undefined;
  const ms = Date.parse(raw);
  if (!Number.isFinite(ms)) return undefined;
  // Keep the caller's sub-millisecond precision when it is already UTC.
  return raw.endsWith("Z") ? raw : new Date(ms).toISOString();
}

/**
 * Every string parameter starts here: C0 control characters (NUL above all, which PostgreSQL cannot
 * store or compare) and DEL are refused with a 400 before anything reaches storage.
 */
// eslint-disable-next-line no-control-regex
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;
const text = () => z.string().regex(NO_CONTROL, "must not contain control characters (such as NUL)");

const TIME_HINT =
  "must be an ISO-8601 time such as 2024-01-15T10:30:00Z (an offset or a plain date also work)";

const timeParam = (description: string) =>
  text()
    .meta({ format: "date-time", description, examples: ["2024-01-15T10:30:00Z"] })
    .transform((raw, ctx) => {
      const time = normalizeTime(raw);
      if (time === undefined) {
        ctx.addIssue({ code: "custom", message: TIME_HINT });
        return z.NEVER;
      }
      return time;
    });

const limitParam = text()
  .meta({
    type: "integer",
    minimum: 1,
    maximum: MAX_PAGE_LIMIT,
    default: DEFAULT_PAGE_LIMIT,
    description: `page size, 1-${MAX_PAGE_LIMIT}`,
  })
  .transform((raw, ctx) => {
    if (!/^-?\d+$/.test(raw)) {
      ctx.addIssue({ code: "custom", message: `must be an integer from 1 to ${MAX_PAGE_LIMIT}` });
      return z.NEVER;
    }
    const value = Number(raw);
    if (value < 1) ctx.addIssue({ code: "custom", message: "must be at least 1" });
    else if (value > MAX_PAGE_LIMIT)
      ctx.addIssue({ code: "custom", message: `must be at most ${MAX_PAGE_LIMIT}` });
    return value;
  });

const oneOf = <T extends string>(values: readonly T[]) =>
  z.enum(values as [T, ...T[]], { error: `must be one of ${values.join(", ")}` });

const eventTypeParam = oneOf<EventType>(EVENT_TYPES);
const stageParam = oneOf<Stage>(STAGES);
const marketStageParam = oneOf(["market", "processed"] as const).meta({
  description:
    "processed (default): events that went through the processors; market: as the connectors published them",
});
const textParam = (description: string) =>
  text().min(1, "must not be empty").max(128, "must be at most 128 characters").meta({ description });
const cursorParam = text()
  .min(1, "must not be empty")
  .max(512, "is not a cursor returned by this API")
  .meta({ description: "the next_cursor of the previous page" });
const orderParam = oneOf(["asc", "desc"] as const).meta({
  description: "asc (oldest first, default) or desc",
});
const intervalParam = Interval.meta({
  description: "candle interval, e.g. 1m, 5m, 1h, 1d (default 1m)",
  examples: ["1m"],
});

function listParam<T extends string>(description: string, item: z.ZodType<T>) {
  return text()
    .meta({ description: `${description}, comma-separated` })
    .transform((raw, ctx): T[] => {
      const values: T[] = [];
      for (const part of raw.split(",").map((s) => s.trim())) {
        if (part === "") continue;
        const parsed = item.safeParse(part);
        if (!parsed.success) {
          ctx.addIssue({
            code: "custom",
            message: `'${part}' ${parsed.error.issues[0]?.message ?? "is invalid"}`,
          });
          return z.NEVER;
        }
        values.push(parsed.data);
      }
      if (values.length === 0) {
        ctx.addIssue({ code: "custom", message: "must list at least one value" });
        return z.NEVER;
      }
      if (values.length > 256) {
        ctx.addIssue({ code: "custom", message: "must list at most 256 values" });
        return z.NEVER;
      }
      return values;
    });
}

const flagParam = (description: string) =>
  oneOf(["true", "false", "1", "0"] as const)
    .meta({ description })
    .transform((raw) => raw === "true" || raw === "1");

const range = {
  start: timeParam("inclusive start of the time range").optional(),
  end: timeParam("exclusive end of the time range").optional(),
};

function checkRange(
  value: { start?: string | undefined; end?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (
    value.start !== undefined &&
    value.end !== undefined &&
    Date.parse(value.end) <= Date.parse(value.start)
  ) {
    ctx.addIssue({ code: "custom", path: ["end"], message: "must be later than start" });
  }
}

export const EventsParams = z
  .strictObject({
    event_type: eventTypeParam.optional(),
    source: textParam("origin, e.g. hyperliquid").optional(),
    symbol: textParam("normalized symbol, e.g. BTC-USD").optional(),
    stage: stageParam.optional().meta({
      description:
        "market, processed, system or custom (default: processed for a market-data event_type, else all)",
    }),
    ...range,
    limit: limitParam.optional(),
    cursor: cursorParam.optional(),
    order: orderParam.optional(),
  })
  .superRefine(checkRange);

export const SymbolPath = z.strictObject({
  symbol: text()
    .min(1, "must not be empty")
    .max(128, "must be at most 128 characters")
    .meta({ description: "normalized symbol, e.g. BTC-USD (URL-encoded)" }),
});

export const TradesParams = z
  .strictObject({
    source: textParam("only this source").optional(),
    stage: marketStageParam.optional(),
    ...range,
    limit: limitParam.optional(),
    cursor: cursorParam.optional(),
    order: orderParam.optional(),
  })
  .superRefine(checkRange);

export const OhlcvParams = z
  .strictObject({
    interval: intervalParam.optional(),
    source: textParam("only this source").optional(),
    stage: marketStageParam.optional(),
    ...range,
    limit: limitParam.optional(),
    cursor: cursorParam.optional(),
  })
  .superRefine(checkRange);

export const LatestParams = z.strictObject({
  source: textParam("only this source (default: the newest of any source)").optional(),
  stage: oneOf(["market", "processed"] as const)
    .meta({ description: "only events stored from this stage (default: either)" })
    .optional(),
});

export const MarketsParams = z.strictObject({ source: textParam("only this source").optional() });
export const ConnectorsParams = MarketsParams;

const streamFilter = {
  event_types: listParam<EventType>("event types", eventTypeParam).optional(),
  symbols: listParam("symbols", textParam("symbol")).optional(),
  sources: listParam("sources", textParam("source")).optional(),
};
const streamCommon = {
  conflate: flagParam(
    "when the client falls behind, keep only the latest ticker, order book and derivative ticker per source and symbol instead of disconnecting",
  ).optional(),
  api_key: text()
    .max(256)
    .meta({ description: "API key, for clients that cannot send headers (browsers' EventSource, WebSocket)" })
    .optional(),
};
export const SseParams = z.strictObject({ ...streamFilter, ...streamCommon });
export const WsParams = z.strictObject(streamCommon);

// ---- responses ----

export const EventPageResponse = EventPage.meta({
  description: "A page of events, oldest first unless order=desc",
});

export const MarketSummary = Market.extend({
  kind: z
    .enum(INSTRUMENT_KINDS as [InstrumentKind, ...InstrumentKind[]])
    .nullable()
    .meta({
      description: "spot or perpetual (from the source registry); null for a source it does not know",
    }),
  exchange: z.string().nullable().meta({ description: "the exchange, e.g. Binance; null when unknown" }),
  source_display_name: z
    .string()
    .nullable()
    .meta({ description: "the source as a person reads it, e.g. Binance USDⓈ-M perpetuals" }),
  ticker: StandardEventSchema.nullable().meta({ description: "the latest ticker event, if any" }),
});
export const MarketsResponse = z.object({ data: z.array(MarketSummary), next_cursor: z.null() });

export const EventResponse = z.object({ data: StandardEventSchema });

export const ConnectorStatusEntry = z.object({
  source: z.string(),
  connector: z.string(),
  status: ConnectorState,
  previous_status: ConnectorState.nullable(),
  message: z.string().nullable(),
  channel: z.string().nullable(),
  symbols: z.array(z.string()).nullable(),
  last_error: z.string().nullable().meta({
    description: "the connector's last error (e.g. why it cannot resolve its symbols), if it reported one",
  }),
  last_error_at: z.string().nullable().meta({ format: "date-time", description: "when that error happened" }),
  timestamp: z.string().meta({ format: "date-time", description: "when the connector reported this status" }),
  event_id: z.string(),
});
export type ConnectorStatusEntry = z.infer<typeof ConnectorStatusEntry>;
export const ConnectorsResponse = z.object({ data: z.array(ConnectorStatusEntry), next_cursor: z.null() });

export const ErrorResponse = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES as [GatewayErrorCode, ...GatewayErrorCode[]]),
    message: z.string(),
  }),
});

export const HealthResponse = z.object({ status: z.string() });
export const ReadyResponse = z.object({
  status: z.enum(["ok", "not_ready"]),
  draining: z.boolean(),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string().optional() })),
});
