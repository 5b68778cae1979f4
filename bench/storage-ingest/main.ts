/**
 * storage-ingest: events/s persisted end to end (JetStream → storage-service ingest → database), beside
 * the two raw legs measured in the same run on the same data:
 *   - raw JetStream: a durable pull consumer, `consume()` with a callback, ack every message;
 *   - raw insert: the same rows, multi-row `INSERT … ON CONFLICT DO NOTHING` in batches (the store's
 *     insert: `unnest` arrays on PostgreSQL, one prepared statement per row in a transaction on SQLite);
 *   - end to end: the storage service (in this process) from start until every event is committed.
 * Goal: end to end ≥ 0.6 × the slower raw leg.
 * Then the memory check: the built service (dist/main.js, run `pnpm build` first) under a steady load
 * while its PostgreSQL connection is cut for BENCH_OUTAGE_SECONDS; its RSS is sampled throughout and
 * every event must be stored once afterwards.
 *
 * Run from the repo root: `pnpm build && pnpm --filter @market-scraper/bench storage-ingest`.
 * Each leg runs BENCH_REPS times, interleaved; medians are reported (the host is shared and noisy).
 * Env: BENCH_EVENTS (100000), BENCH_REPS (3), BENCH_BATCH (1000), BENCH_STORES (postgres,sqlite),
 * BENCH_OUTAGE_SECONDS (30; 0 skips the memory check), BENCH_OUTAGE_RATE (5000 ev/s).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureStreams } from "@market-scraper/bus";
import { type StandardEvent, encodeEvent, markProcessed, subjectFor } from "@market-scraper/events";
import { createLogger, createMetricsRegistry, parseEnv } from "@market-scraper/runtime";
import {
  PostgresStore,
  SqliteStore,
  type Store,
  ThreadedSqliteStore,
  createStorageService,
  eventRow,
  storageEnv,
} from "@market-scraper/storage-service";
import { freePort, makeTrade, makeTrades, startNats, startPostgres } from "@market-scraper/testkit";
import { AckPolicy, type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { TcpProxy } from "./tcp-proxy.js";

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number ≥ 0, got '${raw}'`);
  return value;
}

const N = Math.round(envNumber("BENCH_EVENTS", 100_000));
const REPS = Math.max(1, Math.round(envNumber("BENCH_REPS", 3)));
const BATCH = Math.round(envNumber("BENCH_BATCH", 1000));
const STORES = (process.env.BENCH_STORES ?? "postgres,sqlite").split(",").map((s) => s.trim()) as (
  "postgres" | "sqlite"
)[];
const OUTAGE_S = envNumber("BENCH_OUTAGE_SECONDS", 30);
const OUTAGE_RATE = envNumber("BENCH_OUTAGE_RATE", 5000);
const MAIN = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "services",
  "storage-service",
  "dist",
  "main.js",
);

const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);
const fmt = (n: number) => n.toLocaleString("en-US");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
};

async function publish(js: JetStreamClient, events: readonly StandardEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) {
    await Promise.all(
      events.slice(i, i + 1000).map((e) => js.publish(subjectFor(e), encodeEvent(e), { msgID: e.event_id })),
    );
  }
}

async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const nats = await startNats({ isolated: true });
const cleanups: (() => Promise<unknown>)[] = [() => nats.stop()];
try {
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  cleanups.unshift(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm);
  const js = jetstream(nc);

  console.log(
    `storage-ingest: ${fmt(N)} trade events, batch ${BATCH}, ${cpus().length} CPUs, node ${process.version}`,
  );
  const events = makeTrades(N, { startMs: Date.parse("2024-03-01T00:00:00Z"), stepMs: 10 });
  const bodies = events.map((e) => encodeEvent(e).toString("utf8"));
  const t = performance.now();
  await publish(js, events);
  console.log(`  (setup) JetStream publish of the messages: ${fmt(rate(N, performance.now() - t))} ev/s`);

  const tmp = mkdtempSync(join(tmpdir(), "bench-storage-"));
  cleanups.push(async () => rmSync(tmp, { recursive: true, force: true }));
  /** The raw leg writes with `SqliteStore` on this thread; the service (end to end) as it runs, threaded. */
  const openStore = async (kind: "postgres" | "sqlite", name: string, threaded = false): Promise<Store> => {
    if (kind === "sqlite") {
      const path = join(tmp, `${name}.db`);
      return threaded ? new ThreadedSqliteStore({ path }) : new SqliteStore({ path });
    }
    const db = await startPostgres();
    cleanups.push(() => db.stop());
    return new PostgresStore({ url: db.url });
  };
  const rows = events.map((e, i) => eventRow(e, "market", bodies[i]!));

  /** Raw leg 1: consume + ack the same messages (a durable of its own, callback form). */
  const rawConsume = async (rep: number): Promise<number> => {
    const durable = `bench_raw_${rep}`;
    await jsm.consumers.add("MARKET", {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      filter_subject: "market.>",
      max_ack_pending: 20_000,
    });
    const consumer = await js.consumers.get("MARKET", durable);
    let consumed = 0;
    const t0 = performance.now();
    let messages: Awaited<ReturnType<typeof consumer.consume>> | undefined;
    const ms = await new Promise<number>((resolve, reject) => {
      consumer
        .consume({
          max_messages: BATCH,
          callback: (m) => {
            m.ack();
            if (++consumed === N) resolve(performance.now() - t0);
          },
        })
        .then((m) => (messages = m), reject);
    });
    await nc.flush();
    await messages?.close();
    return rate(N, ms);
  };

  /** Raw leg 2: the same rows, multi-row insert in batches, into a fresh database. */
  const rawInsert = async (kind: "postgres" | "sqlite", rep: number): Promise<number> => {
    const store = await openStore(kind, `raw-${rep}`);
    await store.migrate();
    await store.insert(rows.slice(0, 1)); // the partition is created outside the timing, as in steady state
    const t0 = performance.now();
    let inserted = 1;
    for (let i = 1; i < N; i += BATCH) inserted += await store.insert(rows.slice(i, i + BATCH));
    const ms = performance.now() - t0;
    await store.close();
    if (inserted !== N) throw new Error(`raw insert stored ${inserted} of ${N}`);
    return rate(N, ms);
  };

  /** End to end: the service's ingest (in this process) from start until every event is committed. */
  const endToEnd = async (kind: "postgres" | "sqlite", rep: number): Promise<number> => {
    const store = await openStore(kind, `e2e-${rep}`, true);
    const connection = await connect({ servers: nats.url, noAsyncTraces: true });
    const service = createStorageService({
      nc: connection,
      store,
      logger: createLogger({ service: "bench", level: "warn" }),
      registry: createMetricsRegistry({ service: "bench", collectDefault: false }),
      config: parseEnv(storageEnv, {
        STORAGE_DURABLE: `bench_e2e_${kind}_${rep}`,
        STORAGE_BATCH_SIZE: String(BATCH),
        STORAGE_FLUSH_MS: "50ms",
      }),
    });
    const stored = async () => (await service.metrics.stored.get()).values[0]?.value ?? 0;
    const t0 = performance.now();
    await service.start();
    await until(async () => (await stored()) >= N, 300_000, `${N} events stored`);
    const ms = performance.now() - t0;
    await service.stop();
    await connection.drain();
    const total = (await store.stats()).total_events;
    await store.close();
    if (total !== N) throw new Error(`end to end stored ${total} of ${N}`);
    return rate(N, ms);
  };

  // Legs interleaved per repetition, medians reported: the host is shared, so load varies over time.
  const figures = new Map<string, number[]>();
  const record = (key: string, value: number) => figures.set(key, [...(figures.get(key) ?? []), value]);
  for (let rep = 0; rep < REPS; rep++) {
    record("js", await rawConsume(rep));
    for (const kind of STORES) {
      record(`insert-${kind}`, await rawInsert(kind, rep));
      record(`e2e-${kind}`, await endToEnd(kind, rep));
    }
  }
  const med = (key: string) => median(figures.get(key)!);
  const runs = (key: string) => `(runs: ${figures.get(key)!.map(fmt).join(", ")})`;
  const jsRate = med("js");
  console.log(`  raw JetStream consume+ack:            ${fmt(jsRate).padStart(9)} ev/s    ${runs("js")}`);
  const ratios: number[] = [];
  for (const kind of STORES) {
    const insertRate = med(`insert-${kind}`);
    const e2eRate = med(`e2e-${kind}`);
    const ratio = e2eRate / Math.min(jsRate, insertRate);
    ratios.push(ratio);
    console.log(
      `  raw multi-row insert (${kind.padEnd(8)}):    ${fmt(insertRate).padStart(9)} rows/s  ${runs(`insert-${kind}`)}`,
    );
    console.log(
      `  end to end (${kind.padEnd(8)}):              ${fmt(e2eRate).padStart(9)} ev/s    ${runs(`e2e-${kind}`)}`,
    );
    console.log(
      `    → ${ratio.toFixed(2)} × the slower raw leg (goal ≥ 0.60): ${ratio >= 0.6 ? "OK" : "BELOW GOAL"}`,
    );
  }
  if (ratios.some((r) => r < 0.6)) process.exitCode = 1;

  if (OUTAGE_S > 0) await memoryCheck(nats.url);
} finally {
  for (const fn of cleanups) await fn().catch(() => undefined);
}

/** RSS of the built service under load while its database connection is cut. */
async function memoryCheck(natsUrl: string): Promise<void> {
  const db = await startPostgres();
  const target = new URL(db.url);
  const proxy = new TcpProxy(await freePort(), { host: target.hostname, port: Number(target.port || 5432) });
  await proxy.up();
  const viaProxy = new URL(db.url);
  viaProxy.port = String(proxy.port);
  const httpPort = await freePort();
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      DATABASE_URL: viaProxy.toString(),
      HTTP_PORT: String(httpPort),
      LOG_LEVEL: "error",
      STORAGE_DURABLE: "bench_outage",
      STORAGE_SUBJECTS: "processed.>",
      STORAGE_BATCH_SIZE: String(BATCH),
      STORAGE_MAX_BACKOFF: "2s",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const store = new PostgresStore({ url: db.url, poolSize: 1 });
  try {
    await until(
      async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => null))?.ok === true,
      30_000,
      "service ready",
    );
    const rssMb = () => {
      const line = readFileSync(`/proc/${child.pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
      return Number(line?.[1] ?? 0) / 1024;
    };
    const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
    const js = jetstream(nc);
    let published = 0;
    let publishing = true;
    const load = (async () => {
      // Processed trades: the service under test consumes only `processed.>`, so the messages above are not in the way.
      while (publishing) {
        const tick = performance.now();
        const batch = Array.from({ length: Math.round(OUTAGE_RATE / 10) }, () =>
          markProcessed(makeTrade({ timestamp: new Date().toISOString() })),
        );
        await publish(js, batch);
        published += batch.length;
        await sleep(Math.max(0, 100 - (performance.now() - tick)));
      }
    })();
    const phases: Record<string, number[]> = { before: [], outage: [], after: [] };
    const sample = async (phase: string, seconds: number) => {
      for (let i = 0; i < seconds * 2; i++) {
        phases[phase]!.push(rssMb());
        await sleep(500);
      }
    };
    await sample("before", 5);
    await proxy.down();
    const readyDuring: boolean[] = [];
    const outage = sample("outage", OUTAGE_S);
    await sleep(3000);
    readyDuring.push((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).ok);
    await outage;
    await proxy.up();
    await sample("after", 5);
    publishing = false;
    await load;
    const t0 = performance.now();
    await until(async () => (await store.stats()).total_events >= published, 120_000, "backlog stored");
    const total = (await store.stats()).total_events;
    await nc.close();
    const max = (xs: number[]) => Math.max(...xs).toFixed(0);
    console.log(
      `  memory, database cut for ${OUTAGE_S}s at ${fmt(OUTAGE_RATE)} ev/s: RSS max ${max(phases.before!)} MB before, ` +
        `${max(phases.outage!)} MB during, ${max(phases.after!)} MB after; ready during outage: ${readyDuring.join()}; ` +
        `stored ${fmt(total)} of ${fmt(published)} published (backlog drained ${((performance.now() - t0) / 1000).toFixed(1)}s after load stopped)`,
    );
    if (total !== published) process.exitCode = 1;
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await store.close();
    await proxy.down();
    await db.stop();
  }
}
