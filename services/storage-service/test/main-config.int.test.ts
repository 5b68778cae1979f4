import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const MAIN = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "main.js");

describe("storage-service main with a malformed DATABASE_URL (dist/main.js)", () => {
  it("exits 78 with one line that names the variable and never echoes the password", () => {
    expect(existsSync(MAIN), `${MAIN} missing: run pnpm build first`).toBe(true);
    const result = spawnSync(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? "", DATABASE_URL: "mysql://u:S3cretPW@h/db?password=S3cretPW" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(78);
    expect(result.stdout + result.stderr).not.toContain("S3cretPW");
    expect(result.stderr.trimEnd().split("\n")).toEqual([
      'config error: DATABASE_URL: expected postgres://…, postgresql://…, sqlite:<path> or sqlite::memory:, got "mysql://u:***@h/db?password=***"',
    ]);
  });
});
