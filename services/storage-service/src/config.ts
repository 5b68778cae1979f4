import { EVENT_TYPES, isStage } from "@market-scraper/events";
import { baseServiceEnv, commaList, durationMs, parseDurationMs, positiveInt } from "@market-scraper/runtime";
import { z } from "zod";

/** What `DATABASE_URL` selects: PostgreSQL, or embedded SQLite (a file, or memory). */
export type DatabaseTarget = { kind: "postgres"; url: string } | { kind: "sqlite"; path: string };

export function parseDatabaseUrl(raw: string): DatabaseTarget | undefined {
  const url = raw.trim();
  if (/^postgres(ql)?:\/\/./i.test(url)) return { kind: "postgres", url };
  if (/^sqlite:/i.test(url)) {
    const rest = url.slice("sqlite:".length).replace(/^\/\//, "");
    if (rest === "") return undefined;
    return { kind: "sqlite", path: rest };
  }
  return undefined;
}

/** Retention per event type in ms; `*` is the default for types not listed. */
export type RetentionRules = ReadonlyMap<string, number>;

export function parseRetention(raw: string): RetentionRules | string {
  const rules = new Map<string, number>();
  for (const item of raw.split(",").map((s) => s.trim())) {
    if (item === "") continue;
    const colon = item.indexOf(":");
    if (colon <= 0) return `'${item}': expected <event_type>:<duration>, e.g. trade:7d`;
    const type = item.slice(0, colon).trim();
    const duration = parseDurationMs(item.slice(colon + 1));
    if (type !== "*" && !(EVENT_TYPES as readonly string[]).includes(type)) {
      return `'${type}' is not an event type (${EVENT_TYPES.join(", ")} or *)`;
    }
    if (duration === undefined || duration <= 0) return `'${item}': expected a positive duration like 7d`;
    if (rules.has(type)) return `'${type}' is listed twice`;
    rules.set(type, duration);
  }
  return rules;
}

const databaseUrl = z
  .string()
  .default("sqlite:./data/market-scraper.db")
  .transform((raw, ctx): DatabaseTarget => {
    const target = parseDatabaseUrl(raw);
    if (target === undefined) {
      ctx.addIssue({
        code: "custom",
        message: "expected postgres://…, postgresql://…, sqlite:<path> or sqlite::memory:",
      });
      return z.NEVER;
    }
    return target;
  });

const retention = z
  .string()
  .default("")
  .transform((raw, ctx): RetentionRules => {
    const rules = parseRetention(raw);
    if (typeof rules === "string") {
      ctx.addIssue({ code: "custom", message: rules });
      return z.NEVER;
    }
    return rules;
  });

const subjects = commaList(["market.>", "processed.>", "system.>"]).superRefine((list, ctx) => {
  if (list.length === 0) ctx.addIssue({ code: "custom", message: "at least one subject" });
  for (const subject of list) {
    const stage = subject.split(".")[0];
    if (!isStage(stage)) {
      ctx.addIssue({
        code: "custom",
        message: `'${subject}' must start with market, processed, system or custom (deadletter.> is never consumed)`,
      });
    }
  }
});

const durableName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,24}$/, "letters, digits, - and _ only, at most 24 characters")
  .default("storage");

/** The storage service's environment (ARCHITECTURE §6, §7). */
export const storageEnv = baseServiceEnv(9103).extend({
  DATABASE_URL: databaseUrl,
  /** Subjects consumed, one JetStream durable consumer each. */
  STORAGE_SUBJECTS: subjects,
  /** Prefix of the durable consumer names, shared by every replica. */
  STORAGE_DURABLE: durableName,
  STORAGE_BATCH_SIZE: positiveInt(1000),
  STORAGE_FLUSH_MS: durationMs("200ms"),
  /** Batches being written at once (PostgreSQL commits one while the next is decoded). */
  STORAGE_INSERT_CONCURRENCY: positiveInt(2),
  /** Server redelivers a message not acked in this time. */
  STORAGE_ACK_WAIT: durationMs("30s"),
  /** Unacknowledged messages outstanding on each consumer, across all replicas. */
  STORAGE_MAX_ACK_PENDING: positiveInt(20_000),
  /** Upper bound of the delay between retries while the database fails. */
  STORAGE_MAX_BACKOFF: durationMs("10s"),
  STORAGE_RETENTION: retention,
  STORAGE_RETENTION_INTERVAL: durationMs("10m"),
  /** Rows deleted per statement by retention (bounded batches). */
  STORAGE_RETENTION_BATCH: positiveInt(10_000),
  /** PostgreSQL: daily partitions created this many days ahead. */
  STORAGE_PARTITIONS_AHEAD: positiveInt(3),
  STORAGE_PG_POOL_SIZE: positiveInt(4),
});

export type StorageConfig = z.output<typeof storageEnv>;
