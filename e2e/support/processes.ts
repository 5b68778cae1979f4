import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, waitFor } from "@market-scraper/testkit";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export type ServiceName =
  "connector-service" | "processor-service" | "storage-service" | "gateway-service" | "standalone";

/** The built entry of a service; `pnpm test` builds everything first. */
export function mainJs(service: ServiceName): string {
  const path = join(REPO_ROOT, "services", service, "dist", "main.js");
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`pnpm build\` (pnpm test does) first`);
  return path;
}

export interface RunningProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  /** `http://127.0.0.1:<HTTP_PORT>` */
  readonly url: string;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** SIGTERM (to the whole process group when `group`), then the exit code; SIGKILL after 20 s. */
  stop(): Promise<number | null>;
  /** Waits until `/readyz` answers 200. */
  ready(timeoutMs?: number): Promise<void>;
}

const running = new Set<RunningProcess>();
function killAll(): void {
  for (const p of running) {
    try {
      if (p.child.pid !== undefined) process.kill(-p.child.pid, "SIGKILL");
    } catch {
      p.child.kill("SIGKILL");
    }
  }
}
process.once("exit", killAll);

/**
 * Spawns `command args` in its own process group (so that `pnpm start`'s children are signalled too),
 * with `HTTP_PORT` set to a free port unless given, output collected, killed when the test process exits.
 */
export async function spawnProcess(
  name: string,
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  options: { cwd?: string } = {},
): Promise<RunningProcess> {
  const port = env.HTTP_PORT === undefined ? await freePort() : Number(env.HTTP_PORT);
  let output = "";
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      LOG_LEVEL: "warn",
      ...env,
      HTTP_PORT: String(port),
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const proc: RunningProcess = {
    name,
    child,
    port,
    url,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(-child.pid, "SIGTERM");
      }
      const timer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
      }, 20_000);
      const code = await exited;
      clearTimeout(timer);
      running.delete(proc);
      return code;
    },
    async ready(timeoutMs = 30_000) {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
          return (await fetch(`${url}/readyz`)).ok;
        },
        { timeoutMs, message: `${name} ready; output:\n${output.slice(-3000)}` },
      );
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/** A built service (`services/<name>/dist/main.js`) as a child process. */
export function spawnService(service: ServiceName, env: Record<string, string>): Promise<RunningProcess> {
  return spawnProcess(service, process.execPath, [mainJs(service)], env);
}
