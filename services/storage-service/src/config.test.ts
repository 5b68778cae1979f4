import { ConfigError, parseEnv } from "@market-scraper/runtime";
import { describe, expect, it } from "vitest";
import { parseDatabaseUrl, parseRetention, storageEnv } from "./config.js";

describe("storage config", () => {
  it("has defaults: embedded SQLite, the three stages, port 9103", () => {
    const config = parseEnv(storageEnv, {});
    expect(config.HTTP_PORT).toBe(9103);
    expect(config.DATABASE_URL).toEqual({ kind: "sqlite", path: "./data/market-scraper.db" });
    expect(config.STORAGE_SUBJECTS).toEqual(["market.>", "processed.>", "system.>"]);
    expect(config.STORAGE_BATCH_SIZE).toBe(1000);
    expect(config.STORAGE_FLUSH_MS).toBe(200);
    expect(config.STORAGE_RETENTION.size).toBe(0);
  });

  it("selects the store from DATABASE_URL", () => {
    expect(parseDatabaseUrl("postgres://u@h:5432/db")).toEqual({
      kind: "postgres",
      url: "postgres://u@h:5432/db",
    });
    expect(parseDatabaseUrl("postgresql://h/db")?.kind).toBe("postgres");
    expect(parseDatabaseUrl("sqlite::memory:")).toEqual({ kind: "sqlite", path: ":memory:" });
    expect(parseDatabaseUrl("sqlite:/var/lib/ms/events.db")).toEqual({
      kind: "sqlite",
      path: "/var/lib/ms/events.db",
    });
    expect(parseDatabaseUrl("sqlite:///abs.db")).toEqual({ kind: "sqlite", path: "/abs.db" });
    expect(parseDatabaseUrl("mysql://x")).toBeUndefined();
    expect(parseDatabaseUrl("sqlite:")).toBeUndefined();
  });

  it("parses STORAGE_RETENTION per event type", () => {
    const rules = parseRetention("trade:7d, order_book:1d,ohlcv:365d,*:30d");
    expect(rules).toEqual(
      new Map([
        ["trade", 7 * 86_400_000],
        ["order_book", 86_400_000],
        ["ohlcv", 365 * 86_400_000],
        ["*", 30 * 86_400_000],
      ]),
    );
    expect(parseRetention("trades:7d")).toMatch(/not an event type/);
    expect(parseRetention("trade")).toMatch(/expected <event_type>:<duration>/);
    expect(parseRetention("trade:soon")).toMatch(/positive duration/);
    expect(parseRetention("trade:1d,trade:2d")).toMatch(/twice/);
  });

  it("names every bad variable", () => {
    let error: unknown;
    try {
      parseEnv(storageEnv, {
        DATABASE_URL: "mysql://nope",
        STORAGE_SUBJECTS: "market.>,deadletter.>",
        STORAGE_BATCH_SIZE: "0",
        STORAGE_RETENTION: "trade:forever",
        STORAGE_DURABLE: "a.b",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.variable)).toEqual([
      "DATABASE_URL",
      "STORAGE_SUBJECTS",
      "STORAGE_DURABLE",
      "STORAGE_BATCH_SIZE",
      "STORAGE_RETENTION",
    ]);
  });
});
