import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@market-scraper/testkit";
import { afterAll, describe, expect, it } from "vitest";

// Issue 13, point 5: a replay file that cannot be played (missing, a directory) is a config error: exit
// 78 with one line, from the connector service and from standalone (`--replay` or `REPLAY_FILE`), not a
// service that keeps running with a PARSE_ERROR warning. Runs the built dist/main.js files (`pnpm build`).
const servicesDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const connectorMain = join(servicesDir, "connector-service", "dist", "main.js");
const standaloneMain = join(servicesDir, "standalone", "dist", "main.js");
const dir = mkdtempSync(join(tmpdir(), "replay-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `main`; a process still running after 10 s is killed and reported as `code: null`. */
async function run(
  main: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [main, ...args], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "",
      HTTP_PORT: String(await freePort()),
      NATS_URL: "nats://127.0.0.1:9",
      DATABASE_URL: `sqlite:${join(dir, "db.sqlite")}`,
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  return new Promise((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

const missing = 'config error: REPLAY_FILE: no such file, got "/no/such/file"';
const directory = (): string => `config error: REPLAY_FILE: not a file, got "${dir}"`;

describe("connector-service with a replay file it cannot play", () => {
  it("exits 78 with one line for a missing file", async () => {
    const result = await run(connectorMain, [], { CONNECTORS: "replay", REPLAY_FILE: "/no/such/file" });
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split("\n")).toEqual([missing]);
  });

  it("exits 78 with one line for a directory", async () => {
    const result = await run(connectorMain, [], { CONNECTORS: "replay", REPLAY_FILE: dir });
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split("\n")).toEqual([directory()]);
  });
});

describe("standalone with a replay file it cannot play", () => {
  it("exits 78 with one line for --replay /no/such/file", async () => {
    const result = await run(standaloneMain, ["--replay", "/no/such/file"], {});
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split("\n")).toEqual([missing]);
  });

  it("exits 78 with one line for REPLAY_FILE naming a directory", async () => {
    const result = await run(standaloneMain, [], { REPLAY_FILE: dir });
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split("\n")).toEqual([directory()]);
  });
});
