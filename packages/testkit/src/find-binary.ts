import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The system directories searched after `PATH` (Debian puts `nats-server` in /usr/sbin). */
export const SYSTEM_BINARY_DIRS: readonly string[] = [
  "/usr/sbin",
  "/usr/local/bin",
  "/usr/bin",
  "/sbin",
  "/bin",
];

/** Absolute path of an executable called `name`, looked up in `PATH` then `SYSTEM_BINARY_DIRS`. */
export function findBinary(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const pathDirs = (env.PATH ?? "").split(delimiter).filter((dir) => dir !== "");
  for (const dir of [...pathDirs, ...SYSTEM_BINARY_DIRS]) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: keep looking
    }
  }
  return undefined;
}
