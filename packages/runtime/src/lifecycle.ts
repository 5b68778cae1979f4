import type { HealthState } from "./health-state.js";
import type { Logger } from "./logger.js";

/** What `start` returns: something that stops in order (not ready → stop intake → finish in-flight → drain). */
export interface StoppableService {
  stop(): Promise<void>;
}

export type ShutdownSignal = "SIGTERM" | "SIGINT";

/** The parts of `process` that `runService` touches; tests pass a fake. */
export interface ServiceProcess {
  on(event: ShutdownSignal, listener: (signal: NodeJS.Signals) => void): unknown;
  on(event: "uncaughtException", listener: (error: Error) => void): unknown;
  on(event: "unhandledRejection", listener: (reason: unknown) => void): unknown;
  off(event: ShutdownSignal, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: "uncaughtException", listener: (error: Error) => void): unknown;
  off(event: "unhandledRejection", listener: (reason: unknown) => void): unknown;
  exit(code: number): void;
}

export interface RunServiceOptions {
  /** For the log lines. */
  name: string;
  logger: Logger;
  start: () => Promise<StoppableService>;
  /** After a shutdown begins, exit 1 if `stop()` has not finished in this time; default 25 000. */
  shutdownTimeoutMs?: number;
  /** Gets a `started` check (not ok until `start` resolves) and `startDraining()` at shutdown. */
  health?: HealthState;
  /** Default `process`. */
  proc?: ServiceProcess;
}

export const STARTED_CHECK = "started";

/**
 * Runs a service for `main.ts`: starts it, and on SIGTERM/SIGINT turns readiness off, awaits `stop()`
 * and exits 0. Exits 1 on a start failure, a second signal, a shutdown timeout, a failing `stop()`,
 * or (after an orderly stop attempt) an uncaught exception or unhandled rejection. Resolves with the
 * exit code once `proc.exit` has been called (which, with the real process, never returns).
 */
export function runService(options: RunServiceOptions): Promise<number> {
  const proc = options.proc ?? process;
  const health = options.health;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 25_000;
  const logger = options.logger.child({ component: "lifecycle" });

  let shuttingDown = false;
  let exitCode = 0;
  let exited = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveDone: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });

  const onSignal = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger.error({ signal }, `second signal during shutdown of ${options.name}; exiting now`);
      exit(1);
      return;
    }
    logger.info({ signal }, `received ${signal}; shutting down ${options.name}`);
    shutdown();
  };
  const onUncaughtException = (error: Error): void => fatal(error, "uncaught exception");
  const onUnhandledRejection = (reason: unknown): void => fatal(reason, "unhandled rejection");

  function fatal(error: unknown, what: string): void {
    logger.fatal({ err: error }, `${what} in ${options.name}; stopping`);
    exitCode = 1;
    shutdown();
  }

  function exit(code: number): void {
    if (exited) return;
    exited = true;
    clearTimeout(timer);
    for (const signal of ["SIGTERM", "SIGINT"] as const) proc.off(signal, onSignal);
    proc.off("uncaughtException", onUncaughtException);
    proc.off("unhandledRejection", onUnhandledRejection);
    resolveDone(code);
    proc.exit(code);
  }

  for (const signal of ["SIGTERM", "SIGINT"] as const) proc.on(signal, onSignal);
  proc.on("uncaughtException", onUncaughtException);
  proc.on("unhandledRejection", onUnhandledRejection);

  health?.setCheck(STARTED_CHECK, false, "starting");
  logger.info(`starting ${options.name}`);
  // A synchronous throw in `start` becomes a rejection like any other start failure.
  const started = Promise.resolve().then(() => options.start());
  started.then(
    () => {
      health?.setCheck(STARTED_CHECK, true);
      if (!shuttingDown) logger.info(`${options.name} started`);
    },
    (error: unknown) => {
      logger.fatal({ err: error }, `${options.name} failed to start`);
      exit(1);
    },
  );

  function shutdown(): void {
    if (shuttingDown) return;
    shuttingDown = true;
    health?.startDraining();
    timer = setTimeout(() => {
      logger.error({ shutdownTimeoutMs }, `shutdown of ${options.name} timed out; exiting`);
      exit(1);
    }, shutdownTimeoutMs);
    started.then(
      async (service) => {
        try {
          await service.stop();
          logger.info(`${options.name} stopped`);
          exit(exitCode);
        } catch (error) {
          logger.error({ err: error }, `${options.name} failed to stop`);
          exit(1);
        }
      },
      // Start failed: its handler above exits.
      () => undefined,
    );
  }

  return done;
}
