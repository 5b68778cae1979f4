/**
 * pipeline: the whole pipeline, end to end, as users run it (the built `dist/main.js` of each service).
 *
 *   exchange frames ─▶ connector ─▶ processor ─▶ storage (persisted) ─▶ … and ─▶ gateway ─▶ WebSocket client
 *
 * The connector replays a raw capture (`CONNECTORS=replay REPLAY_SPEED=max`) from a named pipe that this
 * script writes: frames reach the connector exactly when we write them, so the run starts when the
 * WebSocket client is subscribed, and each frame's `ms` (the connector's `received_at`) is its write time.
 * For each mode (distributed: four processes on a private nats-server with PostgreSQL; standalone: one
 * process on MemoryEventBus with SQLite):
 *   1. latency: BENCH_RATE trades/s (default 2,000) for BENCH_LATENCY_SECONDS; per processed trade on the
 *      WebSocket: now − received_at (exchange frame received → client), p50/p99 after a 1 s warm-up;
 *   2. throughput: BENCH_EVENTS trades (default 50,000) written as fast as the pipe takes them; events/s
 *      = trades / (first → last processed trade at the client), once storage has persisted them all
 *      (`market_scraper_storage_events_stored_total` ≥ 2 × trades: the market and the processed copy);
 *   3. RSS: peak resident memory (VmHWM) of every process.
 * Beside it, the raw JetStream limit on the same server in the same run: publish (acks awaited per 256)
 * + durable pull consumer (consume, ack each) of the same number of trade-sized messages.
 *
 * Goals: distributed ≥ 0.5 × raw JetStream; p99 < 50 ms at 2,000 events/s; standalone RSS < 250 MB.
 * Run from the repo root: `pnpm build && pnpm --filter @market-scraper/bench pipeline`.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync, type WriteStream } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startNats, startPostgres } from "@market-scraper/testkit";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { WebSocket } from "ws";
import { percentile } from "../bus-throughput/stats.js";

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a number > 0, got '${raw}'`);
  return value;
}

const N = Math.round(envNumber("BENCH_EVENTS", 50_000));
const RATE = envNumber("BENCH_RATE", 2_000);
const LATENCY_S = envNumber("BENCH_LATENCY_SECONDS", 5);
const MODES = (process.env.BENCH_MODES ?? "distributed,standalone").split(",").map((s) => s.trim());
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const mainOf = (service: string) => join(ROOT, "services", service, "dist", "main.js");

const tmp = mkdtempSync(join(tmpdir(), "bench-pipeline-"));
const cleanups: (() => Promise<void> | void)[] = [() => rmSync(tmp, { recursive: true, force: true })];

// ---- the exchange side: trade frames in the connector's capture format -------------------------

const COINS = ["BTC", "ETH"] as const;
const MARKETS = JSON.stringify({
  type: "markets",
  connector: "hyperliquid",
  markets: COINS.map((coin) => ({ coin, symbol: `${coin}-USD`, kind: "perp" })),
});
let tid = 5_000_000_000;
/** One `trades` frame with one trade, stamped with the write time (`ms`) and exchange time `time`. */
function tradeLine(time: number): string {
  tid += 1;
  const coin = COINS[tid % 2]!;
  const px = (coin === "BTC" ? 84_000 : 3_100) + (tid % 97) / 10;
  const frame = JSON.stringify({
    channel: "trades",
    data: [
      {
        coin,
        side: tid % 3 === 0 ? "A" : "B",
        px: px.toFixed(1),
        sz: ((tid % 1000) / 1000 + 0.001).toFixed(5),
        time,
        hash: `0x${tid.toString(16).padStart(64, "0")}`,
        tid,
        users: ["0x9aa589355bf745db9784c8ef3c646360f11b58af", "0x8269c0a4f5f1a14582e0aa46856a234893c41970"],
      },
    ],
  });
  return `{"type":"frame","ms":${Date.now()},"frame":${JSON.stringify(frame)}}\n`;
}

function write(stream: WriteStream, text: string): Promise<void> {
  return stream.write(text)
    ? Promise.resolve()
    : new Promise((resolve) => stream.once("drain", () => resolve()));
}

/**
 * Exchange time of the latency phase's trades: this far behind the clock, so that the throughput phase's
 * trades (up to N / 50 ms behind the clock) come after them in event time.
 */
const LATENCY_PHASE_AGE_MS = Math.max(3_600_000, 2 * Math.ceil(N / 50));

// ---- processes -----------------------------------------------------------------------------------

interface Proc {
  name: string;
  child: ChildProcess;
  url: string;
  output: () => string;
}

async function spawnMain(name: string, service: string, env: Record<string, string>): Promise<Proc> {
  const port = await freePort();
  let output = "";
  // e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile every service process
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const child = spawn(process.execPath, [...nodeArgs, mainOf(service)], {
    cwd: tmp,
    env: {
      PATH: process.env.PATH ?? "",
      LOG_LEVEL: "warn",
      ...env,
      HTTP_PORT: String(port),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  child.stderr?.on("data", (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  const proc = { name, child, url: `http://127.0.0.1:${port}`, output: () => output };
  cleanups.push(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  return proc;
}

async function until(
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function ready(p: Proc): Promise<void> {
  await until(
    async () => {
      if (p.child.exitCode !== null) throw new Error(`${p.name} exited: ${p.output()}`);
      return (await fetch(`${p.url}/readyz`)).ok;
    },
    60_000,
    `${p.name} ready`,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${p.output()}`);
  });
}

async function storedTotal(p: Proc): Promise<number> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("market_scraper_storage_events_stored_total"));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0; // gone
  }
}

/**
 * CPU seconds used so far by every process whose command name is `comm` and whose command line
 * contains `arg` (e.g. our nats-server's port), or all of them (postgres: the server and its backends).
 */
function cpuSecondsByName(comm: string, arg?: string): number {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== comm) continue;
      if (arg !== undefined && !readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(arg))
        continue;
      total += cpuSecondsOf(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return total;
}

/** CPU seconds of each of our processes and of the servers they use. */
function cpuSnapshot(procs: Proc[], natsPort: number | undefined): Map<string, number> {
  const snapshot = new Map<string, number>();
  for (const p of procs) snapshot.set(p.name, cpuSecondsOf(p.child.pid!));
  snapshot.set("nats-server", cpuSecondsByName("nats-server", String(natsPort)));
  snapshot.set("postgres", cpuSecondsByName("postgres"));
  const own = process.cpuUsage();
  snapshot.set("bench", (own.user + own.system) / 1e6);
  return snapshot;
}

/** Peak resident set size (VmHWM) in MB. */
function peakRssMb(p: Proc): number {
  const status = readFileSync(`/proc/${p.child.pid}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once("exit", r));
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

// ---- the client ----------------------------------------------------------------------------------

class Client {
  /** Arrival time (performance.now) and latency (ms, from received_at) of each processed trade. */
  readonly arrivals: number[] = [];
  readonly latencies: number[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      const text = data.toString("utf8");
      if (!text.startsWith('{"type":"event"')) return;
      const now = Date.now();
      this.arrivals.push(performance.now());
      const match = /"received_at":"([^"]+)"/.exec(text);
      if (match) this.latencies.push(now - Date.parse(match[1]!));
    });
  }

  static async open(url: string): Promise<Client> {
    const ws = new WebSocket(`${url.replace("http", "ws")}/v1/stream`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const client = new Client(ws);
    const subscribed = new Promise<void>((resolve) =>
      ws.on("message", (d: Buffer) => {
        if (d.toString().includes('"type":"subscribed"')) resolve();
      }),
    );
    ws.send(JSON.stringify({ action: "subscribe", event_types: ["trade"] }));
    await subscribed;
    return client;
  }
}

// ---- one mode ------------------------------------------------------------------------------------

interface ModeResult {
  mode: string;
  eventsPerSecond: number;
  p50: number;
  p99: number;
  latencySamples: number;
  rss: { name: string; mb: number }[];
  /** CPU microseconds per trade of each process during the throughput run. */
  cpu: { name: string; usPerEvent: number }[];
}

async function runMode(
  mode: string,
  natsUrl: string,
  natsPort: number | undefined,
  pgUrl: string,
): Promise<ModeResult> {
  const fifo = join(tmp, `${mode}.jsonl`);
  execFileSync("mkfifo", [fifo]);
  const common = {
    GATEWAY_STREAM_BUFFER: "1000000", // the bench client must never be cut as a slow consumer
    HEARTBEAT_INTERVAL: "0",
    OHLCV_INTERVALS: "1m",
  };
  const replay = { CONNECTORS: "replay", REPLAY_FILE: fifo, REPLAY_SPEED: "max" };
  let procs: Proc[];
  let gateway: Proc;
  let storage: Proc;
  if (mode === "distributed") {
    const env = { ...common, NATS_URL: natsUrl };
    storage = await spawnMain("storage", "storage-service", { ...env, DATABASE_URL: pgUrl });
    const processor = await spawnMain("processor", "processor-service", env);
    gateway = await spawnMain("gateway", "gateway-service", env);
    const connector = await spawnMain("connector", "connector-service", { ...env, ...replay });
    procs = [connector, processor, storage, gateway];
  } else {
    const single = await spawnMain("standalone", "standalone", {
      ...common,
      ...replay,
      DATABASE_URL: `sqlite:${join(tmp, "standalone.db")}`,
    });
    procs = [single];
    gateway = single;
    storage = single;
  }
  // The connector blocks opening the pipe until we open it: readiness of the others first.
  await Promise.all(procs.filter((p) => p.name !== "connector").map((p) => ready(p)));
  const client = await Client.open(gateway.url);
  const pipe = createWriteStream(fifo);
  await write(pipe, `${MARKETS}\n`);
  await Promise.all(procs.map((p) => ready(p)));

  // 1. latency at a fixed rate, in 10 ms ticks
  const latencyEvents = Math.round(RATE * LATENCY_S);
  const t0 = performance.now();
  let sent = 0;
  while (sent < latencyEvents) {
    const due = Math.min(latencyEvents, Math.floor(((performance.now() - t0) / 1000) * RATE));
    let chunk = "";
    for (; sent < due; sent++) chunk += tradeLine(Date.now() - LATENCY_PHASE_AGE_MS);
    if (chunk !== "") await write(pipe, chunk);
    await new Promise((r) => setTimeout(r, 10));
  }
  await until(() => client.arrivals.length >= latencyEvents, 60_000, `${mode}: paced trades at the client`);
  // Skip the first second (at most half of the samples): connections and JIT warm up.
  const skip = Math.min(Math.round(RATE), Math.floor(client.latencies.length / 2));
  const warm = client.latencies.slice(skip).sort((a, b) => a - b);
  const p50 = Math.round(percentile(warm, 50) * 10) / 10;
  const p99 = Math.round(percentile(warm, 99) * 10) / 10;

  // 2. throughput: N trades as fast as the pipe takes them
  const before = client.arrivals.length;
  const storedBefore = await storedTotal(storage);
  const cpuBefore = cpuSnapshot(procs, natsPort);
  // 50 trades per exchange millisecond, all in the past and all after the latency phase's trades, so the
  // candles see them in order: none is late (a late trade costs an error event and a log line).
  const base = Date.now() - Math.ceil(N / 50) - 60_000;
  for (let i = 0; i < N; i += 1000) {
    let chunk = "";
    for (let k = i; k < Math.min(N, i + 1000); k++) chunk += tradeLine(base + Math.floor(k / 50));
    await write(pipe, chunk);
  }
  pipe.end();
  await until(() => client.arrivals.length >= before + N, 300_000, `${mode}: all trades at the client`);
  await until(
    async () => (await storedTotal(storage)) - storedBefore >= 2 * N,
    300_000,
    `${mode}: all persisted`,
  );
  const persistedAt = performance.now();
  const cpuAfter = cpuSnapshot(procs, natsPort);
  const cpu = [...cpuAfter].map(([name, seconds]) => ({
    name,
    usPerEvent: ((seconds - (cpuBefore.get(name) ?? 0)) * 1e6) / N,
  }));
  const first = client.arrivals[before]!;
  const last = Math.max(client.arrivals[before + N - 1]!, persistedAt);
  const eventsPerSecond = (N - 1) / ((last - first) / 1000);
  const rss = procs.map((p) => ({ name: p.name, mb: peakRssMb(p) }));
  client.ws.close();
  for (const p of procs.reverse()) await stop(p);
  return { mode, eventsPerSecond, p50, p99, latencySamples: warm.length, rss, cpu };
}

// ---- raw JetStream -------------------------------------------------------------------------------

interface RawResult {
  eventsPerSecond: number;
  /** CPU µs per message: this process (publisher + consumer) and our nats-server. */
  cpu: { name: string; usPerEvent: number }[];
}

async function rawJetStream(natsUrl: string, natsPort: number | undefined): Promise<RawResult> {
  const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: "BENCH_RAW", subjects: ["benchraw.>"] });
  await jsm.consumers.add("BENCH_RAW", {
    durable_name: "raw",
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 20_000,
  });
  // A trade event's size on the wire (~600 bytes as the connector publishes it).
  const body = Buffer.from(tradeLine(Date.now()).padEnd(600, " "));
  const consumer = await js.consumers.get("BENCH_RAW", "raw");
  let consumed = 0;
  const cpuBefore = cpuSnapshot([], natsPort);
  const t0 = performance.now();
  let messages: Awaited<ReturnType<typeof consumer.consume>> | undefined;
  const done = new Promise<number>((resolve, reject) => {
    consumer
      .consume({
        max_messages: 1000,
        callback: (m) => {
          m.ack();
          if (++consumed === N) resolve(performance.now());
        },
      })
      .then((m) => (messages = m), reject);
  });
  for (let i = 0; i < N; i += 256) {
    const window = [];
    for (let k = i; k < Math.min(N, i + 256); k++) {
      window.push(js.publish(`benchraw.trade.${k % 2}`, body, { msgID: `raw-${k}` }));
    }
    await Promise.all(window);
  }
  const end = await done;
  const cpuAfter = cpuSnapshot([], natsPort);
  await messages?.close();
  await jsm.streams.delete("BENCH_RAW");
  await nc.close();
  const cpu = ["bench", "nats-server"].map((name) => ({
    name,
    usPerEvent: (((cpuAfter.get(name) ?? 0) - (cpuBefore.get(name) ?? 0)) * 1e6) / N,
  }));
  return { eventsPerSecond: N / ((end - t0) / 1000), cpu };
}

// ---- main ----------------------------------------------------------------------------------------

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function main(): Promise<void> {
  for (const service of [
    "connector-service",
    "processor-service",
    "storage-service",
    "gateway-service",
    "standalone",
  ]) {
    readFileSync(mainOf(service)); // throws early when not built
  }
  console.log(
    `pipeline bench: ${fmt(N)} trades at full speed, ${fmt(RATE)} trades/s for ${LATENCY_S} s; ` +
      `${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}`,
  );
  const nats = await startNats({ isolated: true });
  cleanups.push(() => nats.stop());
  const pg = await startPostgres();
  cleanups.push(() => pg.stop());

  const rawResult = await rawJetStream(nats.url, nats.port);
  const raw = rawResult.eventsPerSecond;
  console.log(`raw JetStream publish+consume: ${fmt(raw)} events/s`);
  const results: ModeResult[] = [];
  for (const mode of MODES) {
    const result = await runMode(mode, nats.url, nats.port, pg.url);
    results.push(result);
    console.log(
      `${mode}: ${fmt(result.eventsPerSecond)} events/s, p50 ${result.p50} ms, p99 ${result.p99} ms`,
    );
  }

  const lines = [
    "| run | events/s | × raw JetStream | p50 / p99 at " + fmt(RATE) + " ev/s | peak RSS |",
    "| --- | ---: | ---: | ---: | --- |",
    `| raw JetStream publish + consume (limit) | ${fmt(raw)} | 1.00 | — | — |`,
    ...results.map(
      (r) =>
        `| ${r.mode} | ${fmt(r.eventsPerSecond)} | ${(r.eventsPerSecond / raw).toFixed(2)} | ` +
        `${r.p50} / ${r.p99} ms | ${r.rss.map((x) => `${x.name} ${Math.round(x.mb)} MB`).join(", ")} |`,
    ),
  ];
  console.log(`\n${lines.join("\n")}\n`);
  for (const r of [{ mode: "raw JetStream", cpu: rawResult.cpu }, ...results]) {
    const total = r.cpu.reduce((sum, c) => sum + c.usPerEvent, 0);
    console.log(
      `${r.mode} CPU per event: ${Math.round(total)} µs (` +
        r.cpu.map((c) => `${c.name} ${Math.round(c.usPerEvent)}`).join(", ") +
        ")",
    );
  }
  const distributed = results.find((r) => r.mode === "distributed");
  const standalone = results.find((r) => r.mode === "standalone");
  const goals = [
    distributed &&
      `distributed ≥ 0.5 × raw JetStream: ${(distributed.eventsPerSecond / raw).toFixed(2)} ${distributed.eventsPerSecond >= 0.5 * raw ? "MET" : "NOT MET"}`,
    ...results.map(
      (r) => `${r.mode} p99 < 50 ms at ${fmt(RATE)}/s: ${r.p99} ms ${r.p99 < 50 ? "MET" : "NOT MET"}`,
    ),
    standalone &&
      `standalone RSS < 250 MB: ${Math.round(standalone.rss[0]!.mb)} MB ${standalone.rss[0]!.mb < 250 ? "MET" : "NOT MET"}`,
  ].filter((x): x is string => typeof x === "string");
  console.log(goals.map((g) => `goal: ${g}`).join("\n"));
}

try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
