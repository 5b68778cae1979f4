import { accessSync, constants, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

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
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** `.ci/install-nats`, which pins the current NATS versions and installs them (repository root relative). */
export const INSTALL_NATS_SCRIPT = fileURLToPath(new URL("../../../.ci/install-nats", import.meta.url));

export interface CurrentNatsBinaries {
  /** The pinned server version, e.g. `2.15.3`. */
  readonly version: string;
  /** Where `.ci/install-nats` puts the server: `<cache>/market-scraper/nats-<version>/nats-server`. */
  readonly serverPath: string;
  /** Where `.ci/install-nats` puts the `nats` CLI: `<cache>/market-scraper/natscli-<version>/nats`. */
  readonly cliPath: string;
}

/**
 * The versions pinned in `.ci/install-nats` (the one place they are written) and where that script
 * installs them; whether they are installed is for the caller to check.
 */
export function currentNatsBinaries(env: NodeJS.ProcessEnv = process.env): CurrentNatsBinaries {
  const script = readFileSync(INSTALL_NATS_SCRIPT, "utf8");
  const pinned = (name: string): string => {
    const match = new RegExp(`^${name}=([0-9.]+)$`, "m").exec(script);
    if (match === null) throw new Error(`${INSTALL_NATS_SCRIPT} pins no ${name}`);
    return match[1]!;
  };
  const cache = join(env.XDG_CACHE_HOME || join(env.HOME ?? homedir(), ".cache"), "market-scraper");
  const version = pinned("NATS_SERVER_VERSION");
  return {
    version,
    serverPath: join(cache, `nats-${version}`, "nats-server"),
    cliPath: join(cache, `natscli-${pinned("NATS_CLI_VERSION")}`, "nats"),
  };
}

/** True when `path` is an executable file. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
