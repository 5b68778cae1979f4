import { isMainThread } from "node:worker_threads";

/**
 * Synchronous clean-up run when the test process ends, so a test that crashes or forgets `stop()` does
 * not leave servers running or temp dirs behind. Covers a normal exit and the signals a test runner
 * ends its workers with (vitest SIGTERMs its fork workers, and those never emit 'exit'). A SIGKILLed
 * process runs nothing.
 */
const tasks = new Set<() => void>();
const SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];
let installed = false;

// Newest first, like `defer`: a server registered after its data dir is killed before the dir is removed.
function runAll(): void {
  for (const task of [...tasks].reverse()) {
    try {
      task();
    } catch {
      // best effort: the process is ending anyway
    }
  }
  tasks.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  for (const each of SIGNALS) process.off(each, onSignal);
  // Listening to a signal cancels Node's default (exit). When nobody else handles it, die of it as
  // Node would have; otherwise leave the decision to the other listeners.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once("exit", runAll);
  // Signals are only delivered to the main thread.
  if (isMainThread) for (const signal of SIGNALS) process.on(signal, onSignal);
}

/** Registers `task` to run when the process ends; returns a function that unregisters it. */
export function onProcessExit(task: () => void): () => void {
  install();
  tasks.add(task);
  return () => {
    tasks.delete(task);
  };
}
