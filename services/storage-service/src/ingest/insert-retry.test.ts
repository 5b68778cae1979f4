import { HealthState, createLogger, createMetricsRegistry } from "@market-scraper/runtime";
import { describe, expect, it } from "vitest";
import { createStorageMetrics } from "../metrics.js";
import { StoreError } from "../store/store-error.js";
import { backoffDelay } from "@market-scraper/bus";
import {
  DATABASE_HEALTH_CHECK,
  DatabaseOutage,
  INSERT_RETRY_INITIAL_MS,
  insertWithRetry,
} from "./insert-retry.js";

function setup() {
  const lines: { level: string; msg: string; [k: string]: unknown }[] = [];
  const log = createLogger({
    service: "insert-retry-test",
    level: "debug",
    destination: { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) },
  });
  const metrics = createStorageMetrics(createMetricsRegistry({ service: "t", collectDefault: false }));
  const health = new HealthState();
  health.setCheck(DATABASE_HEALTH_CHECK, true);
  let now = 1_000;
  const outage = new DatabaseOutage({ metrics, health, log, now: () => now });
  return { lines, log, metrics, health, outage, advance: (ms: number) => (now += ms) };
}

const down = new StoreError("UNAVAILABLE", "database unavailable: read-only");

describe("DatabaseOutage", () => {
  it("logs the start and the end of an outage once, however many batches fail, and counts its time", async () => {
    const { lines, metrics, health, outage, advance } = setup();
    outage.failed(down);
    expect(health.snapshot().checks[DATABASE_HEALTH_CHECK]).toEqual({
      ok: false,
      detail: "database unavailable: read-only",
    });
    expect((await metrics.databaseDown.get()).values[0]!.value).toBe(1);
    for (let i = 0; i < 5; i++) {
      advance(1_000);
      outage.failed(down); // another batch in flight, or a retry
    }
    advance(500);
    outage.succeeded();
    outage.succeeded(); // the other batch
    expect(health.snapshot().checks[DATABASE_HEALTH_CHECK]).toEqual({ ok: true });
    expect((await metrics.databaseDown.get()).values[0]!.value).toBe(0);
    expect((await metrics.outageSeconds.get()).values[0]!.value).toBeCloseTo(5.5);
    expect((await metrics.insertFailures.get()).values).toMatchObject([
      { labels: { code: "UNAVAILABLE" }, value: 6 },
    ]);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "database outage: holding writes and retrying"],
      ["info", "database writes recovered"],
    ]);
    expect(lines[1]).toMatchObject({ outageMs: 5_500, failures: 6 });
  });
});

describe("insertWithRetry", () => {
  it("retries an outage until the insert succeeds; each retry is a debug line", async () => {
    const { lines, log, outage } = setup();
    let attempts = 0;
    const result = await insertWithRetry({
      insert: () => (++attempts < 3 ? Promise.reject(down) : Promise.resolve("ok")),
      outage,
      log,
      maxBackoffMs: 1,
    });
    expect(result).toBe("ok");
    expect(attempts).toBe(3);
    expect(outage.down).toBe(false);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "database outage: holding writes and retrying"],
      ["debug", "batch insert failed; retrying"],
      ["debug", "batch insert failed; retrying"],
      ["info", "database writes recovered"],
    ]);
  });

  it("waits the one backoff formula between attempts, with the randomness injected", async () => {
    const { lines, log, outage } = setup();
    const waits: number[] = [];
    let attempts = 0;
    await insertWithRetry({
      insert: () => (++attempts < 6 ? Promise.reject(down) : Promise.resolve("ok")),
      outage,
      log,
      maxBackoffMs: 2_000,
      random: () => 0.5,
      sleep: async (ms) => void waits.push(ms),
    });
    const options = { initialMs: INSERT_RETRY_INITIAL_MS, maxMs: 2_000 };
    expect(waits).toEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(n, options, () => 0.5)));
    expect(waits).toEqual([150, 300, 600, 1_200, 1_500]);
    const retries = lines.filter((l) => l.msg === "batch insert failed; retrying");
    expect(retries.map((l) => l.retryInMs)).toEqual(waits);
    expect(retries[0]).toMatchObject({ err: { type: "StoreError", code: "UNAVAILABLE" } });
  });
});
