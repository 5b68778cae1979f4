/**
 * firehose: every configured exchange replayed at full speed from its shipped capture through the
 * standalone pipeline (MemoryEventBus, processor, SQLite storage, gateway), in this process. Reports
 * events/s and peak RSS.
 *
 * Run from the repo root: `pnpm build && pnpm --filter @market-scraper/bench firehose`.
 * Env: BENCH_SOURCES (every source with a capture), BENCH_LOOPS (1000), BENCH_STEP_MS (10).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MemoryEventBus } from "@market-scraper/bus";
import {
  type ConnectorService,
  ReplayConnector,
  createConnectorService,
} from "@market-scraper/connector-service";
import { HealthState, createLogger, createMetricsRegistry } from "@market-scraper/runtime";
import { createStandalone, parseStandaloneEnv } from "@market-scraper/standalone";
import { createStore } from "@market-scraper/storage-service";
import { freePort } from "@market-scraper/testkit";
import { SHIFT_RULES, loopCapture } from "./loop-capture.js";

const fixtures = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "services",
  "connector-service",
  "fixtures",
);
const ALL = ["hyperliquid", "binance", "binance-usdm", "bybit-spot", "bybit-linear"];
const SOURCES = (process.env.BENCH_SOURCES ?? ALL.join(","))
  .split(",")
  .map((s) => s.trim())
  .filter((s) => s !== "");
const LOOPS = Number(process.env.BENCH_LOOPS ?? 1000);
const STEP_MS = Number(process.env.BENCH_STEP_MS ?? 10);

for (const source of SOURCES)
  if (SHIFT_RULES[source] === undefined)
    throw new Error(`unknown source ${source}; known: ${ALL.join(", ")}`);

/** Peak resident set of this process so far, MB (`ru_maxrss`). */
const peakRssMb = (): number => process.resourceUsage().maxRSS / 1024;

const dir = mkdtempSync(join(tmpdir(), "firehose-"));
try {
  // 1. The looped captures, written before anything is timed.
  // Every source's stream ends now: exchange times rise towards the present, as live.
  const endMs = Date.now();
  const files: { source: string; file: string; frames: number }[] = [];
  for (const source of SOURCES) {
    const file = join(dir, `${source}.jsonl`);
    const capture = join(fixtures, `${source}-capture.jsonl`);
    const frames = await loopCapture({ capture, source, out: file, loops: LOOPS, endMs, stepMs: STEP_MS });
    files.push({ source, file, frames });
  }

  // 2. The standalone pipeline: the first source through its own connector service, the others through
  // connector services of their own on the same bus (the connector takes one replay file per service).
  // Errors only: the captures hold exchange error frames on purpose (Hyperliquid's "Already subscribed"),
  // and every loop would log them.
  const logger = createLogger({ service: "firehose", level: "error" });
  const registry = createMetricsRegistry({ service: "firehose", collectDefault: false });
  const health = new HealthState();
  const envOf = (entry: { source: string; file: string }): Record<string, string> => ({
    CONNECTORS: "replay",
    REPLAY_FILE: entry.file,
    REPLAY_SOURCE: entry.source,
    REPLAY_SPEED: "max",
    HEARTBEAT_INTERVAL: "0",
    // Every book update published, as the Binance replay does: conflating on the wall clock would make
    // the count depend on the replay's speed.
    BYBIT_SPOT_BOOK_INTERVAL: "0",
    BYBIT_LINEAR_BOOK_INTERVAL: "0",
  });
  const config = parseStandaloneEnv({
    ...envOf(files[0]!),
    DATABASE_URL: `sqlite:${join(dir, "firehose.db")}`,
    HTTP_PORT: String(await freePort()),
    LOG_LEVEL: "error",
  });
  const store = createStore(config.storage.DATABASE_URL);
  const bus = new MemoryEventBus({ source: "standalone", logger: logger.child({ component: "bus" }) });
  let finished = 0;
  let allFinished!: () => void;
  const done = new Promise<void>((resolve) => (allFinished = resolve));
  const onReplayFinished = (): void => {
    finished += 1;
    if (finished === files.length) allFinished();
  };
  const app = createStandalone({
    config,
    bus,
    store,
    logger,
    registry,
    health,
    host: "127.0.0.1",
    onReplayFinished,
  });
  const others: ConnectorService[] = files.slice(1).map((entry) =>
    createConnectorService({
      config: { ...config.connector, ...parseStandaloneEnv(envOf(entry)).connector },
      bus,
      logger,
      onReplayFinished,
    }),
  );
  const rssBefore = peakRssMb();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await app.start();
  for (const other of others) await other.start();
  await done;
  const replayed = performance.now();
  // Everything the connectors published worked through the processor and written by storage.
  await Promise.all(others.map((o) => o.stop()));
  await app.stop();
  const ended = performance.now();
  const cpu = process.cpuUsage(cpuBefore);
  const stored =
    (await registry.getSingleMetric("market_scraper_storage_events_stored_total")?.get())?.values.reduce(
      (sum, v) => sum + v.value,
      0,
    ) ?? 0;
  await bus.close();
  await store.close();

  const perSource = [app.connector, ...others].map((service, i) => {
    const replay = service.connectors[0] as ReplayConnector;
    if (!(replay instanceof ReplayConnector)) throw new Error("not a replay connector");
    return {
      source: files[i]!.source,
      frames: replay.framesPlayed,
      events: replay.eventsPublished,
      dropped: service.droppedEvents,
    };
  });
  const seconds = (ended - started) / 1000;
  const events = perSource.reduce((sum, s) => sum + s.events, 0);
  const frames = perSource.reduce((sum, s) => sum + s.frames, 0);
  console.log(
    `firehose — ${SOURCES.join(", ")} replayed at full speed through the standalone pipeline (node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"})`,
  );
  console.log(`${LOOPS} loops of each shipped capture (ids and times shifted per loop)\n`);
  console.log("source        | frames    | market events | dropped (too many publishes pending)");
  console.log("--------------|-----------|---------------|-------------------------------------");
  for (const s of perSource)
    console.log(
      `${s.source.padEnd(13)} | ${String(s.frames).padEnd(9)} | ${String(s.events).padEnd(13)} | ${s.dropped}`,
    );
  console.log(
    `\n${frames} frames → ${events} market events in ${seconds.toFixed(1)} s (replays done after ${((replayed - started) / 1000).toFixed(1)} s, then drained and stored)`,
  );
  console.log(`market events/s (connectors' output, start → all stored): ${Math.round(events / seconds)}`);
  console.log(
    `market events/s (replays alone, start → last frame played): ${Math.round(events / ((replayed - started) / 1000))}`,
  );
  console.log(
    `rows stored/s (market + processed + system):            ${Math.round(stored / seconds)} (${stored} rows)`,
  );
  console.log(
    `CPU of this process: ${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(0)} % of one core`,
  );
  console.log(
    `peak RSS: ${peakRssMb().toFixed(0)} MB (${rssBefore.toFixed(0)} MB before the pipeline started)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
