import { execFile } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseStandaloneEnv } from "@market-scraper/standalone";
import { type NatsServerHandle, startNats, waitFor } from "@market-scraper/testkit";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { getJson } from "./support/http.js";
import { REPO_ROOT, type RunningProcess, spawnProcess } from "./support/processes.js";
import { README, comment, commands, example } from "./support/readme.js";

// The root README's shell examples, run as written where this machine can (no exchange access, no root):
// the blocks are taken from README.md itself (`<!-- example:<name> -->` before a fenced block), so this
// test breaks when the README drifts from what works.

const dir = mkdtempSync(join(tmpdir(), "e2e-readme-"));
const processes: RunningProcess[] = [];
let nats: NatsServerHandle | undefined;
let dropDatabase: (() => Promise<void>) | undefined;

afterAll(async () => {
  for (const p of processes) await p.stop();
  await nats?.stop();
  await dropDatabase?.();
  rmSync(dir, { recursive: true, force: true });
});

function sh(command: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      "sh",
      ["-c", command],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
        resolve({ code, out: stdout + stderr });
      },
    );
  });
}

/**
 * Runs a shell line as an interactive shell would: the command (after its `VAR=value` prefix) leads its
 * own process group, which a Ctrl-C signals as a whole; HTTP_PORT is set to a free port.
 */
function spawnLine(name: string, line: string, env: Record<string, string> = {}) {
  const command = line.replace(/^((?:[A-Z_]+=\S+ )*)/, "$1exec ");
  return spawnProcess(name, "sh", ["-c", command], env);
}

/** Ctrl-C in the terminal: SIGINT to the whole process group. */
async function ctrlC(app: RunningProcess): Promise<number | null> {
  process.kill(-app.child.pid!, "SIGINT");
  return app.exited;
}

async function bothMarkets(url: string): Promise<void> {
  await waitFor(async () => (await getJson<{ data: unknown[] }>(`${url}/v1/markets`)).data.length === 2, {
    timeoutMs: 30_000,
    message: "BTC-USD and ETH-USD stored",
  });
}

describe("README examples", () => {
  it("the Tests set-up installs what the tests need (servers, Chromium, the current NATS)", () => {
    const setup = commands(example("test-setup"));
    const apt = setup.find((line) => line.startsWith("apt-get install -y "));
    expect(apt?.split(/\s+/)).toEqual(
      expect.arrayContaining(["nats-server", "postgresql", "redis-server", "chromium"]),
    );
    expect(setup).toContain("bash .ci/install-nats");
    accessSync(join(REPO_ROOT, ".ci/install-nats"), constants.X_OK);
  });

  it("every configuration example parses (VAR=value in the text, e.g. `…` in the reference)", () => {
    const examples: Record<string, string>[] = [];
    for (const line of README.split("\n")) {
      const row = /^\| `([A-Z][A-Z0-9_]*)` \|.*\be\.g\. `([^`]+)`/.exec(line);
      if (row) examples.push({ [row[1]!]: row[2]! });
      const assignments = [...line.matchAll(/\b([A-Z][A-Z0-9_]{2,})=([^\s`'"]+)/g)];
      // Placeholders (`…`, `$VAR`, `<file>`) are for the reader to fill in.
      if (assignments.length === 0 || assignments.some((m) => /[…$<]/.test(m[2]!))) continue;
      examples.push(Object.fromEntries(assignments.map((m) => [m[1]!, m[2]!])));
    }
    expect(examples).toContainEqual({ GATEWAY_API_KEYS: expect.any(String) as string });
    expect(examples.length).toBeGreaterThan(5);
    for (const env of examples) {
      expect(() => parseStandaloneEnv(env), JSON.stringify(env)).not.toThrow();
    }
  });

  it("quick start with the sample replay: the API examples answer, Ctrl-C exits 0", async () => {
    const quick = commands(example("quick-start"));
    const pnpmVersion = (
      JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
        packageManager: string;
      }
    ).packageManager.split("@")[1];
    expect(quick).toEqual([`npm install -g pnpm@${pnpmVersion}`, "pnpm install && pnpm start"]);

    const replay = example("replay");
    const [replayLine] = commands(replay);
    const app = await spawnLine("README replay", replayLine!, {
      DATABASE_URL: `sqlite:${join(dir, "quick.db")}`,
      LOG_LEVEL: "info",
    });
    processes.push(app);
    await app.ready(120_000); // includes the (cached) build
    await bothMarkets(app.url);

    // The API examples, against this process instead of localhost:8080; `$NEXT` is a page's next_cursor.
    const page = await getJson<{ next_cursor: string | null }>(
      `${app.url}/v1/events?event_type=trade&limit=1`,
    );
    const api = commands(example("api"));
    expect(api.length).toBeGreaterThan(5);
    for (const line of api) {
      const stream = line.startsWith("curl -N");
      const command = line.replaceAll("localhost:8080", `127.0.0.1:${app.port}`);
      const { code, out } = await sh(stream ? `${command} --max-time 3` : command, {
        NEXT: page.next_cursor ?? "",
      });
      if (stream) {
        expect(code, line).toBe(28); // cut by --max-time while streaming
        expect(out, line).toMatch(/^data: \{/m);
      } else {
        expect(code, line).toBe(0);
        const body = JSON.parse(out) as Record<string, unknown>;
        expect(body, `${line} → ${out.slice(0, 300)}`).not.toHaveProperty("error");
      }
    }

    expect(await ctrlC(app)).toBe(0);
    expect(app.output()).toContain('"msg":"standalone stopped"');
    expect(app.output()).not.toContain("ELIFECYCLE");

    // The other form of the replay command, in the comment.
    const alternative = comment(replay, 1).replace(/^or:\s*/, "");
    expect(alternative).toMatch(/^pnpm start --replay /);
    const alt = await spawnLine("README replay (--replay)", alternative, {
      DATABASE_URL: `sqlite:${join(dir, "alt.db")}`,
    });
    processes.push(alt);
    await alt.ready(120_000);
    await bothMarkets(alt.url);
    expect(await ctrlC(alt)).toBe(0);
    expect(alt.output()).not.toContain("ELIFECYCLE");
  }, 240_000); // two `pnpm start`s, each with its (cached) build

  it("the distributed steps, on a database that does not exist yet", async () => {
    const block = example("distributed");
    const lines = commands(block);
    expect(lines[0]).toBe("pnpm build"); // `pnpm test` has built everything already
    const exported = /^export NATS_URL=(\S+)$/.exec(lines[1]!);
    expect(exported).not.toBeNull();
    nats = await startNats({ isolated: true });

    // This machine's PostgreSQL, as the README's URL names it, but a database of our own (that storage
    // must create).
    const database = `ms_test_readme_${process.pid}_${Date.now()}`;
    dropDatabase = async () => {
      const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/postgres" });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    };
    const services = lines.slice(2).map((line, i) => {
      expect(line, "each service runs in the background").toMatch(/ &$/);
      let command = line.replace(/ &$/, "");
      command = command.replace("@127.0.0.1:5432/market ", `@127.0.0.1:5432/${database} `);
      // No exchange here: the connector takes the alternative in the comment, with the sample capture.
      const alt = /^or (CONNECTORS=replay) REPLAY_FILE=… for a capture$/.exec(comment(block, i + 2));
      if (command.includes("connector-service") && alt !== null) {
        command = `${alt[1]} REPLAY_FILE=services/standalone/fixtures/sample-capture.jsonl ${command}`;
      }
      return command;
    });
    expect(services.some((c) => c.includes(`/${database} `))).toBe(true);
    expect(services.some((c) => c.startsWith("CONNECTORS=replay"))).toBe(true);

    const running: RunningProcess[] = [];
    for (const command of services) {
      const p = await spawnLine(command, command, { NATS_URL: nats.url, LOG_LEVEL: "info" });
      processes.push(p);
      running.push(p);
    }
    for (const p of running) await p.ready(60_000);
    const gateway = running.find((p) => p.name.includes("gateway-service"))!;
    await bothMarkets(gateway.url);

    for (const p of running.reverse()) expect(await p.stop(), p.name).toBe(0);
    const storage = running.find((p) => p.name.includes("storage-service"))!;
    expect(storage.output()).not.toContain("does not exist");
  }, 120_000);
});
