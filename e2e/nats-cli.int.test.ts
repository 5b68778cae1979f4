import { type ChildProcess, execFile, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { StandardEvent } from "@market-scraper/events";
import {
  FakeHyperliquidServer,
  type FakeHlTrade,
  type NatsServerHandle,
  type PostgresServerHandle,
  currentNatsBinaries,
  startNats,
  startPostgres,
  waitFor,
} from "@market-scraper/testkit";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, type RunningProcess, spawnService } from "./support/processes.js";
import { comment, commands, example } from "./support/readme.js";

// The README's "Debugging with the `nats` CLI" block, every line as written, run with the real `nats` CLI
// (.ci/install-nats) against the four distributed services on a private NATS server: the CLI is pointed
// at it with `--server <url>` after `nats`, as the README says to. `nats sub` lines run until their first
// message arrives.

const MINUTE = 60_000;
// Aligned to a minute, in the past (the processor refuses future trades).
const T0 = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;
const block = example("nats-cli");
const lines = commands(block);
const home = mkdtempSync(join(tmpdir(), "e2e-nats-cli-"));
const servers: { stop(): Promise<void> }[] = [];
const services: RunningProcess[] = [];
let nats: NatsServerHandle;
let pg: PostgresServerHandle;
let fake: FakeHyperliquidServer;

/** BTC and ETH trades every 20 s for 2 minutes, then one at 2:10 that closes the 1m buckets. */
function trades(): FakeHlTrade[] {
  const out: FakeHlTrade[] = [];
  let tid = 7_000_000_000;
  for (let i = 0; i <= 6; i++) {
    const time = i < 6 ? T0 + i * 20_000 : T0 + 2 * MINUTE + 10_000;
    for (const [coin, base] of [
      ["BTC", 70_000],
      ["ETH", 3_500],
    ] as const) {
      tid += 1;
      out.push({
        coin,
        side: i % 2 === 0 ? "B" : "A",
        px: (base + i).toFixed(1),
        sz: "0.5",
        time,
        hash: `0x${tid.toString(16).padStart(64, "0")}`,
        tid,
      });
    }
  }
  return out;
}

/** The CLI's environment: its own HOME (no contexts of this machine's user), `nats` on PATH. */
function cliEnv(): NodeJS.ProcessEnv {
  const { cliPath } = currentNatsBinaries();
  return {
    PATH: `${dirname(cliPath)}:${process.env.PATH ?? ""}`,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
  };
}

/** `nats …` as the README writes it, pointed at the test server: `nats --server <url> …`. */
function withServer(line: string): string {
  expect(line).toMatch(/^nats /);
  return line.replace(/^nats /, `nats --server ${nats.url} `);
}

function run(line: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "sh",
      ["-c", withServer(line)],
      { cwd: REPO_ROOT, env: cliEnv(), timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

interface Subscriber {
  readonly line: string;
  readonly child: ChildProcess;
  output(): string;
}

const subscribers: Subscriber[] = [];

async function subscribe(line: string): Promise<Subscriber> {
  let output = "";
  const child = spawn("sh", ["-c", `exec ${withServer(line)}`], {
    cwd: REPO_ROOT,
    env: cliEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const sub = { line, child, output: () => output };
  subscribers.push(sub);
  // The CLI says so once its subscription is in place.
  await waitFor(() => /Subscribing on /.test(output), { message: `${line}: subscribed; output: ${output}` });
  return sub;
}

beforeAll(async () => {
  const { cliPath } = currentNatsBinaries();
  try {
    accessSync(cliPath, constants.X_OK);
  } catch {
    throw new Error(`the nats CLI is not installed at ${cliPath}: run .ci/install-nats (once; needs Go)`);
  }
  nats = await startNats({ isolated: true });
  servers.push(nats);
  pg = await startPostgres();
  servers.push(pg);
  fake = await FakeHyperliquidServer.start();
  servers.push({ stop: () => fake.close() });

  const common = { NATS_URL: nats.url, STORAGE_FLUSH_MS: "20ms", OHLCV_INTERVALS: "1m" };
  services.push(
    ...(await Promise.all([
      spawnService("storage-service", { ...common, DATABASE_URL: pg.url }),
      spawnService("processor-service", common),
      spawnService("gateway-service", common),
      spawnService("connector-service", {
        ...common,
        HYPERLIQUID_WS_URL: fake.wsUrl,
        HYPERLIQUID_REST_URL: fake.restUrl,
        HYPERLIQUID_SYMBOLS: "BTC,ETH",
        HYPERLIQUID_CHANNELS: "trade",
        HEARTBEAT_INTERVAL: "1s",
      }),
    ])),
  );
  await Promise.all(services.map((p) => p.ready(60_000)));
  await waitFor(() => fake.hasSubscription("trades", "BTC") && fake.hasSubscription("trades", "ETH"), {
    timeoutMs: 20_000,
    message: "the connector subscribed to the exchange",
  });
}, 120_000);

afterAll(async () => {
  for (const sub of subscribers) sub.child.kill("SIGKILL");
  const codes = await Promise.all(services.map(async (p) => [p.name, await p.stop()]));
  for (const server of servers.reverse()) await server.stop().catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
  expect(codes.filter(([, code]) => code !== 0)).toEqual([]);
}, 60_000);

interface Received {
  subject: string;
  /** The message body: the last line of the CLI's print of the message (after its headers). */
  body: string;
}

/** The messages `nats sub` printed: `[#1] Received on "<subject>" …`, headers, a blank line, the body. */
function received(output: string): Received[] {
  const parts = output.split(/^\[#\d+\] Received on "([^"]+)".*$/m);
  const out: Received[] = [];
  for (let i = 1; i < parts.length; i += 2) {
    const lines = parts[i + 1]!.split("\n").filter((l) => l.trim() !== "");
    out.push({ subject: parts[i]!, body: lines.at(-1) ?? "" });
  }
  return out;
}

/** True when `subject` matches the NATS subscription `filter` (`*` one token, `>` the rest). */
function matches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const s = subject.split(".");
  for (const [i, token] of f.entries()) {
    if (token === ">") return s.length > i;
    if (i >= s.length || (token !== "*" && token !== s[i])) return false;
  }
  return f.length === s.length;
}

/** The rows of one of the CLI's tables: cells of the lines between `│`s (the header row included). */
function tableRows(output: string): string[][] {
  return output
    .split("\n")
    .filter((l) => l.startsWith("│"))
    .map((l) =>
      l
        .split("│")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

function json(out: { stdout: string }): Record<string, unknown> {
  return JSON.parse(out.stdout) as Record<string, unknown>;
}

describe("the README's `nats` CLI commands, as written, with the real CLI", () => {
  it("show readable JSON events on every subject, the four services, the streams and every stats reply", async () => {
    expect(lines.length).toBeGreaterThanOrEqual(11);
    const subs = await Promise.all(lines.filter((l) => l.startsWith("nats sub ")).map(subscribe));
    expect(subs.map((s) => s.line)).toEqual(
      expect.arrayContaining([expect.stringContaining("deadletter.>")]) as unknown,
    );

    fake.pushTrades(trades());
    // An event no handler can take (no payload): storage and processor dead-letter it.
    const nc = await connect({ servers: nats.url });
    const refused = JSON.stringify({ event_type: "trade", source: "cli-test", payload: {} });
    nc.publish("market.trade.cli-test.BTC-USD", refused);
    await nc.flush();
    await nc.close();

    // Every subscription sees its messages: readable JSON events on the subjects it asked for.
    for (const sub of subs) {
      const filter = /^nats sub '([^']+)'$/.exec(sub.line)?.[1];
      expect(filter, sub.line).toBeDefined();
      const messages = await waitFor(
        () => (received(sub.output()).length > 0 ? received(sub.output()) : undefined),
        {
          timeoutMs: 30_000,
          message: `${sub.line}: a message; output:\n${sub.output().slice(-2000)}`,
        },
      );
      for (const m of messages) {
        expect(matches(filter!, m.subject), `${m.subject} for ${filter}`).toBe(true);
        if (filter!.startsWith("deadletter.")) {
          expect(m.subject).toBe("deadletter.market.trade.cli-test.BTC-USD");
          expect(JSON.parse(m.body)).toEqual(JSON.parse(refused));
        } else {
          // `<stage>.<event_type>.<source>…` of the event in the body.
          const event = StandardEvent.parse(m.body);
          expect(m.subject.split(".").slice(1, 3), m.body).toEqual([event.event_type, event.source]);
        }
      }
    }
    // The candles, as closed by the last trade.
    const candles = received(subs.find((s) => s.line.includes("ohlcv"))!.output()).map((m) =>
      StandardEvent.parse(m.body),
    );
    expect(candles[0]?.payload).toMatchObject({
      symbol: "BTC-USD",
      interval: "1m",
      open: 70_000,
      closed: true,
    });
    await waitFor(
      async () => {
        const stats = json(await run("nats req storage.stats '{}'"));
        // Each trade twice: as the connector sent it (market) and as the processor passed it on.
        return (stats.by_type as Record<string, number>).trade === 28;
      },
      { message: "storage stored the 14 trades, market and processed" },
    );

    const checked = new Set<string>(subs.map((s) => s.line));
    const check = async (line: string, verify: (out: { stdout: string; stderr: string }) => void) => {
      const out = await run(line);
      expect(out.code, `${line}\n${out.stdout}${out.stderr}`).toBe(0);
      verify(out);
      checked.add(line);
    };
    for (const line of lines.filter((l) => !l.startsWith("nats sub "))) {
      if (line === "nats micro ls") {
        await check(line, ({ stdout }) => {
          const rows = tableRows(stdout).filter((r) => r[0] !== "Name" && r.length === 4);
          // The services the README's comment names, each with a description.
          const named = comment(
            block,
            block.split("\n").findIndex((l) => l.startsWith(line)),
          )
            .split(",")
            .map((n) => n.trim());
          expect(rows.map((r) => r[0]).sort()).toEqual([...named].sort());
          expect(named).toHaveLength(4);
          // Each says what it does, and what `nats req` it answers (the requests below).
          const answers: Record<string, string> = {
            "storage-service": "storage.",
            "processor-service": "processor.stats",
            "connector-service": "connector.health",
          };
          for (const [name, , id, description] of rows) {
            expect(id).toMatch(/^\w+$/);
            expect(description).not.toBe("");
            expect(description, name).toContain(answers[name!] ?? "");
          }
          // The CLI prints a version only where it differs from the row above.
          expect(rows[0]![1]).toMatch(/^\d+\.\d+\.\d+$/);
        });
      } else if (line.startsWith("nats micro stats ")) {
        await check(line, ({ stdout }) => {
          const endpoints = tableRows(stdout)
            .filter((r) => r.length === 7 && r[0] !== "ID")
            .map((r) => r[1]);
          expect(endpoints).toEqual(
            expect.arrayContaining(["events", "latest", "candles", "markets", "stats"]),
          );
        });
      } else if (line.startsWith("nats stream info ")) {
        await check(line, ({ stdout }) => {
          expect(stdout).toMatch(/^\s+Subjects: market\.>$/m);
          expect(Number(/^\s+Messages: ([\d,]+)$/m.exec(stdout)?.[1]?.replace(",", ""))).toBeGreaterThan(14);
        });
      } else if (line.startsWith("nats consumer ls ")) {
        await check(line, ({ stdout }) => {
          const names = tableRows(stdout).map((r) => r[0]);
          expect(names).toContain("storage_market_all");
          expect(names.length).toBeGreaterThanOrEqual(3); // header, storage, processor
        });
      } else if (line.startsWith("nats req storage.stats ")) {
        await check(line, (out) => {
          const stats = json(out);
          expect(stats).toMatchObject({
            by_type: { trade: 28 },
            consumer_lag: expect.any(Number) as unknown,
          });
          expect(stats.total_events).toBeGreaterThan(28);
        });
      } else if (line.startsWith("nats req processor.stats ")) {
        await check(line, (out) => {
          const stats = json(out);
          expect(stats).toMatchObject({
            partition: "p0of1",
            processors: { ohlcv: { received: 14 } },
            consumer: { pending: 0 },
          });
        });
      } else if (line.startsWith("nats req connector.health ")) {
        await check(line, (out) => {
          expect(json(out)).toEqual({
            data: [
              expect.objectContaining({ connector: "hyperliquid", status: "healthy", state: "subscribed" }),
            ],
          });
        });
      }
    }
    // Nothing in the README block went unchecked.
    expect(lines.filter((l) => !checked.has(l))).toEqual([]);
  });
});
