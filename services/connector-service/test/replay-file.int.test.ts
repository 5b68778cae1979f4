import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

// Issue 13, point 5: a missing or unreadable REPLAY_FILE is a config error (exit 78, one line), not a
// service that keeps running with a PARSE_ERROR warning. Runs the built dist/main.js (`pnpm build`).
const serviceDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const mainJs = join(serviceDir, "dist", "main.js");
const dir = mkdtempSync(join(tmpdir(), "connector-replay-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the service; a process still running after 10 s is killed and reported as `code: null`. */
function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [mainJs], {
    cwd: serviceDir,
    env: { PATH: process.env.PATH ?? "", NATS_URL: "nats://127.0.0.1:1", ...env },
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

describe("connector-service with a replay file it cannot play", () => {
  it("exits 78 with one line for a missing file", async () => {
    const result = await run({ CONNECTORS: "replay", REPLAY_FILE: "/no/such/file" });
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split("\n")).toEqual([
      'config error: REPLAY_FILE: no such file, got "/no/such/file"',
    ]);
  });

  it("exits 78 with one line for a directory", async () => {
    const result = await run({ CONNECTORS: "replay", REPLAY_FILE: dir });
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split("\n")).toEqual([`config error: REPLAY_FILE: not a file, got "${dir}"`]);
  });
});
