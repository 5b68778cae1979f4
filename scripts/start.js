// `pnpm start`: builds standalone (and what it depends on), then runs it and exits with its exit code.
//
// The package script runs this as `exec node scripts/start.js …`, so pnpm's child is this process, not a
// shell. Before, the script was `turbo run build … && node …`: on Ctrl-C the terminal signals the whole
// process group, the shell died of the SIGINT while standalone was still stopping in order, and pnpm
// reported `ELIFECYCLE Command failed` although standalone then exited 0. pnpm also forwards the signal
// it received to its child, so one Ctrl-C arrives here twice: standalone runs in its own process group
// and gets each signal exactly once, from here (a second signal would make it give up its orderly stop).
import { spawn, spawnSync } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = "services/standalone/dist/main.js";
/** A repeat of the same signal within this window is pnpm's echo of it, not a second Ctrl-C. */
const ECHO_MS = 1_000;

const exitCode = (code, signal) => code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));

const build = spawnSync("turbo", ["run", "build", "--filter=@market-scraper/standalone..."], {
  cwd: ROOT,
  stdio: "inherit",
});
if (build.error !== undefined) {
  process.stderr.write(`pnpm start: cannot run turbo (${build.error.message}); run \`pnpm install\` first\n`);
  process.exit(1);
}
if (build.status !== 0) process.exit(exitCode(build.status, build.signal));

const child = spawn(process.execPath, [MAIN, ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: "inherit",
  detached: true, // its own process group: signals reach it only through the forwarding below
});
const forwarded = new Map();
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    const now = Date.now();
    const last = forwarded.get(signal);
    if (last !== undefined && now - last < ECHO_MS) return;
    forwarded.set(signal, now);
    child.kill(signal);
  });
}
process.on("exit", () => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
child.on("error", (err) => {
  process.stderr.write(`pnpm start: cannot start ${MAIN}: ${err.message}\n`);
  process.exit(1);
});
child.on("exit", (code, signal) => process.exit(exitCode(code, signal)));
