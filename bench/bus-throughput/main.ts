/**
 * bus-throughput: each EventBus implementation beside the raw client doing the same transport work, on
 * private NATS and Redis servers. See bench/README.md. Run from the repo root: `pnpm bench`.
 *
 * Env: BENCH_REPS (3), BENCH_SECONDS (throughput run, 1.5), BENCH_WARMUP_SECONDS (0.3),
 * BENCH_PACED_RATE (5000 ev/s), BENCH_PACED_SECONDS (1), BENCH_ONLY (comma-separated case ids or groups),
 * BENCH_DIAG=1 (also run the diagnostic cases, which explain gaps between a bus and its raw baseline).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { ensureStreams } from "@market-scraper/bus";
import { findBinary, startNats, startRedis } from "@market-scraper/testkit";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { encodeEvent } from "@market-scraper/events";
import { type BenchContext, CASES, type CaseSpec, type Group } from "./cases.js";
import { type PhaseResult, Recorder, runPaced, runThroughput } from "./harness.js";
import { makePool, makeTrade } from "./events.js";
import { median } from "./stats.js";

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got '${raw}'`);
  return value;
}

const config = {
  reps: Math.round(envNumber("BENCH_REPS", 3)),
  throughputMs: envNumber("BENCH_SECONDS", 1.5) * 1000,
  warmupMs: envNumber("BENCH_WARMUP_SECONDS", 0.3) * 1000,
  pacedRate: envNumber("BENCH_PACED_RATE", 5000),
  pacedMs: envNumber("BENCH_PACED_SECONDS", 1) * 1000,
  stallTimeoutMs: 10_000,
};
const only = (process.env.BENCH_ONLY ?? "")
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "");
const diag = process.env.BENCH_DIAG === "1";
const selected = CASES.filter((c) =>
  only.includes(c.id) ? true : (only.length === 0 || only.includes(c.group)) && (diag || !c.diagnostic),
);
const RESULTS_FILE = fileURLToPath(new URL("../results/bus-throughput.json", import.meta.url));

interface RunResult {
  throughput: PhaseResult;
  paced: PhaseResult;
  mismatches: number;
}

interface CaseResult {
  spec: CaseSpec;
  runs: RunResult[];
  rate: number;
  cpuUs: number;
  p50: number;
  p99: number;
  loadedP50: number;
  loadedP99: number;
  ratio: number | null;
  /** Baseline CPU per event / this case's: the same comparison, measured in CPU time instead of wall time. */
  cpuRatio: number | null;
  met: boolean | null;
}

async function runOnce(spec: CaseSpec, ctx: BenchContext, rep: number): Promise<RunResult> {
  await spec.prepare?.(ctx);
  const rec = new Recorder();
  const target = await spec.setup(ctx, rec, rep);
  try {
    const tp = {
      chunk: spec.chunk,
      maxOutstanding: spec.maxOutstanding,
      stallTimeoutMs: config.stallTimeoutMs,
    };
    await runThroughput(target, rec, { ...tp, durationMs: config.warmupMs });
    const throughput = await runThroughput(target, rec, { ...tp, durationMs: config.throughputMs });
    const paced = await runPaced(target, rec, {
      rate: config.pacedRate,
      durationMs: config.pacedMs,
      stallTimeoutMs: config.stallTimeoutMs,
    });
    return { throughput, paced, mismatches: target.mismatches?.() ?? 0 };
  } finally {
    await target.teardown();
  }
}

const fmtRate = (r: number) => (Number.isNaN(r) ? "–" : Math.round(r).toLocaleString("en-US"));
const fmtMs = (ms: number) => (Number.isNaN(ms) ? "–" : ms < 1 ? ms.toFixed(3) : ms.toFixed(2));

function goalText(spec: CaseSpec): string {
  if (!spec.goal) return "";
  return "minRate" in spec.goal
    ? `≥ ${fmtRate(spec.goal.minRate)}/s`
    : `≥ ${spec.goal.minRatio} × ${spec.baseline ?? "baseline"}`;
}

function summarizeCase(spec: CaseSpec, runs: RunResult[], all: Map<string, CaseResult>): CaseResult {
  const rate = median(runs.map((r) => r.throughput.rate));
  const base = spec.baseline === undefined ? undefined : all.get(spec.baseline);
  const ratio = base === undefined ? null : rate / base.rate;
  const cpuUs = median(runs.map((r) => r.throughput.cpuUsPerEvent));
  let met: boolean | null = null;
  if (spec.goal)
    met = "minRate" in spec.goal ? rate >= spec.goal.minRate : ratio !== null && ratio >= spec.goal.minRatio;
  return {
    spec,
    runs,
    rate,
    cpuUs,
    p50: median(runs.map((r) => r.paced.latency.p50)),
    p99: median(runs.map((r) => r.paced.latency.p99)),
    loadedP50: median(runs.map((r) => r.throughput.latency.p50)),
    loadedP99: median(runs.map((r) => r.throughput.latency.p99)),
    ratio,
    cpuRatio: base === undefined ? null : base.cpuUs / cpuUs,
    met,
  };
}

function table(results: CaseResult[]): string {
  const header = [
    "case",
    "work per event",
    "events/s (median)",
    "runs (k ev/s)",
    "CPU µs/ev",
    `p50 ms @${config.pacedRate}/s`,
    `p99 ms @${config.pacedRate}/s`,
    "vs baseline",
    "goal",
    "met",
  ];
  const rows = results.map((r) => [
    r.spec.label,
    r.spec.work,
    fmtRate(r.rate),
    r.runs.map((x) => (x.throughput.rate / 1000).toFixed(0)).join(" / "),
    r.cpuUs < 1 ? r.cpuUs.toFixed(2) : r.cpuUs.toFixed(1),
    fmtMs(r.p50),
    fmtMs(r.p99),
    r.ratio === null || r.cpuRatio === null
      ? ""
      : `${r.ratio.toFixed(2)} × ${r.spec.baseline} (CPU ${r.cpuRatio.toFixed(2)})`,
    goalText(r.spec),
    r.met === null ? "" : r.met ? "yes" : "NO",
  ]);
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function versionOf(binary: string, args: string[]): string {
  const path = findBinary(binary);
  if (path === undefined) return "unknown";
  try {
    return execFileSync(path, args, { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  if (selected.length === 0) throw new Error(`BENCH_ONLY=${only.join(",")} matches no case`);
  const sample = encodeEvent(makeTrade(0));
  const env = {
    node: process.version,
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? "unknown"}`,
    natsServer: versionOf("nats-server", ["--version"]),
    redisServer: versionOf("redis-server", ["--version"]),
    eventBytes: sample.length,
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
    loadAverageAtEnd: [] as number[],
  };
  console.log(
    `bus-throughput: ${env.node}, ${env.cpu}; ${env.natsServer}; ${env.redisServer.split(" ").slice(0, 3).join(" ")}`,
  );
  console.log(
    `trade event ${env.eventBytes} B; ${config.reps} runs per case (median), throughput ${config.throughputMs / 1000} s ` +
      `after ${config.warmupMs / 1000} s warm-up, latency paced at ${config.pacedRate} ev/s for ${config.pacedMs / 1000} s`,
  );

  const [load1] = env.loadAverageAtStart;
  if (load1 !== undefined && load1 > cpus().length / 2) {
    console.log(
      `warning: load average ${env.loadAverageAtStart.join(" ")} on ${cpus().length} cores: ` +
        "other processes compete for the CPU, figures will be noisy (ratios less so: runs alternate)",
    );
  }
  const started = performance.now();
  const nats = await startNats({ jetstream: true, isolated: true });
  const redisServer = await startRedis({ isolated: true });
  const admin = await connect({ servers: nats.url, noAsyncTraces: true });
  const redis = new Redis(redisServer.url);
  const results = new Map<string, CaseResult>();
  try {
    const jsm = await jetstreamManager(admin);
    await ensureStreams(jsm); // the bus's own stream layout (MARKET: market.>, file storage)
    const ctx: BenchContext = {
      natsUrl: nats.url,
      redisUrl: redisServer.url,
      jsm,
      redis,
      pool: makePool(1024),
    };

    const groups = [...new Set(selected.map((c) => c.group))] as Group[];
    for (const group of groups) {
      const cases = selected.filter((c) => c.group === group);
      const runs = new Map<string, RunResult[]>(cases.map((c) => [c.id, []]));
      // Alternate the cases of a group run by run, so drifts of the machine hit them alike.
      for (let rep = 0; rep < config.reps; rep++) {
        for (const spec of cases) {
          let run: RunResult;
          try {
            run = await runOnce(spec, ctx, rep);
          } catch (err) {
            // One broken case should not cost the others' figures; its row shows "–" and the exit code is 1.
            console.error(`  ${spec.id} run ${rep + 1} FAILED:`, err);
            process.exitCode = 1;
            continue;
          }
          runs.get(spec.id)!.push(run);
          const t = run.throughput;
          console.log(
            `  ${spec.id.padEnd(18)} run ${rep + 1}: ${fmtRate(t.rate).padStart(10)} ev/s ` +
              `(${t.events} in ${t.seconds.toFixed(2)} s, ${t.cpuUsPerEvent.toFixed(2)} CPU µs/ev, ` +
              `loaded p50 ${fmtMs(t.latency.p50)} ms)  ` +
              `paced p50 ${fmtMs(run.paced.latency.p50)} p99 ${fmtMs(run.paced.latency.p99)} ms` +
              (t.lost + run.paced.lost > 0 ? `  LOST ${t.lost + run.paced.lost}` : "") +
              (run.mismatches > 0 ? `  ORDER MISMATCHES ${run.mismatches}` : ""),
          );
        }
      }
      // Baselines come first within their group, so ratios can be taken as cases are summarized.
      for (const spec of cases) results.set(spec.id, summarizeCase(spec, runs.get(spec.id)!, results));
    }
  } finally {
    admin.close().catch(() => undefined);
    await redis.quit().catch(() => undefined);
    await Promise.all([nats.stop(), redisServer.stop()]);
  }

  env.loadAverageAtEnd = loadavg().map((l) => Number(l.toFixed(2)));
  const list = [...results.values()];
  console.log(
    `\nThroughput: closed loop (≤ 8192 events in flight), median of ${config.reps} runs; CPU µs/ev: this ` +
      "process's CPU time per event in that run (publisher + subscriber; the server's is not counted); " +
      '"vs baseline": throughput ratio (CPU: baseline CPU/ev ÷ this CPU/ev). ' +
      `Latency: publish→handler, paced at ${config.pacedRate} ev/s, median of the runs' p50/p99.\n`,
  );
  console.log(table(list));
  console.log(
    `\n(${((performance.now() - started) / 1000).toFixed(0)} s; load average at start ` +
      `${env.loadAverageAtStart.join(" ")}, at end ${env.loadAverageAtEnd.join(" ")})`,
  );

  mkdirSync(fileURLToPath(new URL("../results/", import.meta.url)), { recursive: true });
  const json = {
    benchmark: "bus-throughput",
    date: new Date().toISOString(),
    environment: env,
    config,
    cases: list.map((r) => ({
      id: r.spec.id,
      group: r.spec.group,
      kind: r.spec.kind,
      label: r.spec.label,
      work: r.spec.work,
      baseline: r.spec.baseline ?? null,
      goal: r.spec.goal ?? null,
      events_per_s: Math.round(r.rate),
      ratio_to_baseline: r.ratio === null ? null : Number(r.ratio.toFixed(3)),
      client_cpu_us_per_event: Number(r.cpuUs.toFixed(3)),
      cpu_ratio_to_baseline: r.cpuRatio === null ? null : Number(r.cpuRatio.toFixed(3)),
      goal_met: r.met,
      latency_ms_paced: { p50: r.p50, p99: r.p99, rate: config.pacedRate },
      latency_ms_loaded: { p50: r.loadedP50, p99: r.loadedP99 },
      runs: r.runs.map((x) => ({
        events_per_s: Math.round(x.throughput.rate),
        client_cpu_us_per_event: Number(x.throughput.cpuUsPerEvent.toFixed(3)),
        events: x.throughput.events,
        seconds: x.throughput.seconds,
        lost: x.throughput.lost + x.paced.lost,
        order_mismatches: x.mismatches,
        latency_ms_loaded: x.throughput.latency,
        latency_ms_paced: x.paced.latency,
      })),
    })),
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`results: ${RESULTS_FILE}`);
}

// Everything is closed above; if a handle still keeps the process alive, say so and leave anyway.
const exitGuard = () =>
  setTimeout(() => {
    console.error("bus-throughput: handles still open 5 s after the end; exiting");
    process.exit(process.exitCode ?? 0);
  }, 5000).unref();

main().then(exitGuard, (err: unknown) => {
  console.error(err);
  process.exitCode = 1;
  exitGuard();
});
