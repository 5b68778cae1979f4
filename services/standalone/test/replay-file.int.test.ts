import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@market-scraper/testkit";
import { afterAll, describe, expect, it } from "vitest";

// Issue 13, point 5: standalone with a replay file it cannot play exits 78 with one line, whether the
// file comes from `--replay` or `REPLAY_FILE`. Runs the built dist/main.js (`pnpm build`).
const serviceDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const mainJs = join(serviceDir, "dist", "main.js");
const dir = mkdtempSync(join(tmpdir(), "standalone-replay-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs standalone; a process still running after 10 s is killed and reported as `code: null`. */
async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  const port = String(await freePort());
  const child = spawn(process.execPath, [mainJs, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "", HTTP_PORT: port, DATABASE_URL: `sqlite:${join(dir, "db.sqlite")}`, ...env },
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

describe("standalone with a replay file it cannot play", () => {
  it("exits 78 with one line for --replay /no/such/file", async () => {
    const result = await run(["--replay", "/no/such/file"]);
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split("\n")).toEqual([
      'config error: REPLAY_FILE: no such file, got "/no/such/file"',
    ]);
  });

  it("exits 78 with one line for REPLAY_FILE naming a directory", async () => {
    const result = await run([], { REPLAY_FILE: dir });
    expect(result.code).toBe(78);
    expect(result.stderr.trim().split("\n")).toEqual([`config error: REPLAY_FILE: not a file, got "${dir}"`]);
  });
});
