import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type TradeEvent } from "@market-scraper/events";
import {
  type NatsServerHandle,
  type PostgresServerHandle,
  freePort,
  makeTrades,
  startNats,
  startPostgres,
  waitFor,
} from "@market-scraper/testkit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import pg from "pg";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { publishAll } from "./helpers.js";

/**
 * End to end: the built service (`dist/main.js`) as a child process, a private nats-server and a fresh
 * PostgreSQL database. Run `pnpm build` first.
 */
const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "main.js");
const N = 30_000;

class ServiceProcess {
  child: ChildProcess | undefined;
  readonly output: string[] = [];
  constructor(private readonly env: Record<string, string>) {}

  async start(): Promise<void> {
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...this.env, HTTP_PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString("utf8"));
      if (this.output.length > 200) this.output.shift();
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${this.output.join("")}`);
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
      },
      { timeoutMs: 20_000, message: "storage-service ready" },
    );
  }

  async kill(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null)
      return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill(signal);
    return exited;
  }
}

describe("storage-service crash safety (dist/main.js)", () => {
  beforeAll(() => {
    // `pnpm test` builds first; a missing build is a failure, never a silent skip.
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`pnpm build\` first`);
  });

  let nats: NatsServerHandle;
  let db: PostgresServerHandle;
  let nc: NatsConnection;
  let client: pg.Client;
  let service: ServiceProcess;

  beforeEach(async () => {
    nats = await startNats({ isolated: true });
    db = await startPostgres();
    nc = await connect({
      servers: nats.url,
      noAsyncTraces: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 200,
    });
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    service = new ServiceProcess({
      NATS_URL: nats.url,
      DATABASE_URL: db.url,
      LOG_LEVEL: "warn",
      STORAGE_BATCH_SIZE: "250",
      STORAGE_FLUSH_MS: "50ms",
      // Messages delivered to a killed process come back this soon.
      STORAGE_ACK_WAIT: "2s",
      STORAGE_MAX_BACKOFF: "1s",
    });
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") process.stderr.write(service.output.join("").slice(-5000));
    await service.kill("SIGKILL");
    await client.end();
    await nc.close();
    await nats.stop();
    await db.stop();
  });

  async function count(): Promise<number> {
    const r = await client
      .query<{ n: string }>("SELECT count(*) AS n FROM events")
      .catch(() => ({ rows: [{ n: "0" }] }));
    return Number(r.rows[0]!.n);
  }

  /** Exactly the published events, each once. */
  async function expectExactly(trades: readonly TradeEvent[]): Promise<void> {
    await waitFor(async () => (await count()) >= trades.length, {
      timeoutMs: 90_000,
      intervalMs: 200,
      message: `${trades.length} rows`,
    });
    const r = await client.query<{ total: string; distinct_ids: string; published: string }>(
      `SELECT count(*) AS total, count(DISTINCT event_id) AS distinct_ids,
              count(*) FILTER (WHERE event_id = ANY($1::uuid[])) AS published
       FROM events`,
      [trades.map((t) => t.event_id)],
    );
    expect(r.rows[0]).toEqual({
      total: String(trades.length),
      distinct_ids: String(trades.length),
      published: String(trades.length),
    });
    const jsm = await jetstreamManager(nc);
    await waitFor(
      async () => (await jsm.consumers.info("MARKET", "storage_market_all")).num_ack_pending === 0,
      {
        timeoutMs: 20_000,
        message: "every message acked",
      },
    );
  }

  /** Starts the service and N trades publishing; resolves once ingest has stored some of them. */
  async function ingestUnderWay() {
    await service.start();
    const trades = makeTrades(N, { startMs: Date.parse("2024-03-01T00:00:00Z"), stepMs: 30_000 });
    const publishing = publishAll(jetstream(nc), trades);
    await waitFor(async () => (await count()) >= 1_000, {
      timeoutMs: 30_000,
      intervalMs: 10,
      message: "ingest under way",
    });
    return { trades, publishing };
  }

  it("kill -9 mid-stream, restart: the table holds exactly the N events", async () => {
    const { trades, publishing } = await ingestUnderWay();
    await service.kill("SIGKILL");
    const atKill = await count();
    expect(atKill).toBeLessThan(N); // mid-stream
    await service.start();
    await publishing;
    await expectExactly(trades);
  });

  it("NATS server restarted mid-stream: the table holds exactly the N events", async () => {
    const { trades, publishing } = await ingestUnderWay();
    await nats.restart();
    expect(await count()).toBeLessThan(N); // mid-stream
    await publishing;
    await expectExactly(trades);
    expect(service.child?.exitCode).toBeNull(); // it rode out the outage
  });

  it("SIGTERM: drains, acks the batch in hand and exits 0", async () => {
    await service.start();
    const trades = makeTrades(5_000);
    await publishAll(jetstream(nc), trades);
    await waitFor(async () => (await count()) >= 500, {
      timeoutMs: 30_000,
      intervalMs: 10,
      message: "ingest under way",
    });
    expect(await service.kill("SIGTERM")).toBe(0);
    const stored = await count();
    const info = await (await jetstreamManager(nc)).consumers.info("MARKET", "storage_market_all");
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending + stored).toBe(trades.length);
  });
});
