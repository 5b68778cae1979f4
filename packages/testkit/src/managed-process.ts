import { spawn, type ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { onProcessExit } from "./exit-cleanup.js";
import { freePort } from "./free-port.js";
import { TestkitError, describeError } from "./testkit-error.js";
import { waitFor } from "./wait-for.js";

export interface ManagedProcessOptions {
  /** Short name used in errors, e.g. "nats-server". */
  name: string;
  command: string;
  args: readonly string[];
  /** Resolves true once the server accepts work; a rejection counts as "not yet". */
  isReady: () => Promise<boolean>;
  /** Default 20 000 ms. */
  readyTimeoutMs?: number;
  /** How long SIGTERM gets before SIGKILL. Default 10 000 ms. */
  stopTimeoutMs?: number;
}

// What the process printed first (why it refused to start) and last (what it did before dying).
const OUTPUT_HEAD_CHARS = 2_000;
const OUTPUT_TAIL_CHARS = 6_000;

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  unregister: () => void;
}

/**
 * One server process that can be started, stopped gracefully, killed and started again with the same
 * command line. The child is unref'd (it never keeps the test process alive) and SIGKILLed when the test
 * process exits.
 */
export class ManagedProcess {
  readonly #options: ManagedProcessOptions;
  #running: Running | undefined;
  #starting: Promise<void> | undefined;
  #outputHead = "";
  #outputTail = "";
  #outputTruncated = false;

  constructor(options: ManagedProcessOptions) {
    this.#options = options;
  }

  get running(): boolean {
    return this.#running !== undefined;
  }

  get commandLine(): string {
    return [this.#options.command, ...this.#options.args].join(" ");
  }

  /** The first and last few kilobytes the process wrote to stdout and stderr since it was last started. */
  output(): string {
    return this.#outputTruncated
      ? `${this.#outputHead}\n[…]\n${this.#outputTail}`
      : this.#outputHead + this.#outputTail;
  }

  /** Spawns the process and waits until `isReady`; a no-op when it is already running. */
  start(): Promise<void> {
    if (this.#starting) return this.#starting;
    if (this.#running) return Promise.resolve();
    this.#starting = this.#spawnAndWait().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #spawnAndWait(): Promise<void> {
    const { name, command, args } = this.#options;
    this.#outputHead = "";
    this.#outputTail = "";
    this.#outputTruncated = false;
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const exitedEarly = new AbortController();
    let exitDescription = "";
    const exited = new Promise<void>((resolve) => {
      const done = (description: string): void => {
        if (exitDescription !== "") return;
        exitDescription = description;
        if (this.#running?.child === child) {
          this.#running.unregister();
          this.#running = undefined;
        }
        exitedEarly.abort(new Error(`${name} ${description}`));
        resolve();
      };
      child.once("exit", (code, signal) =>
        done(signal !== null ? `was terminated by ${signal}` : `exited with code ${code ?? "?"}`),
      );
      child.once("error", (error) => done(`could not be spawned (${error.message})`));
    });
    for (const stream of [child.stdout, child.stderr]) this.#capture(stream);
    child.unref();
    const unregister = onProcessExit(() => {
      child.kill("SIGKILL");
    });
    this.#running = { child, exited, unregister };

    try {
      await waitFor(() => this.#options.isReady(), {
        timeoutMs: this.#options.readyTimeoutMs ?? 20_000,
        intervalMs: 50,
        message: `${name} to be ready`,
        signal: exitedEarly.signal,
      });
    } catch (error) {
      await this.kill();
      throw new TestkitError(
        "START_FAILED",
        `${name} did not start: ${describeError(error)}\n  command: ${this.commandLine}\n` +
          `  output:\n${indent(this.output()) || "    (none)"}`,
        { cause: error },
      );
    }
  }

  /** SIGTERM, wait for exit (SIGKILL after `stopTimeoutMs`). A no-op when not running. */
  async stop(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    running.child.kill("SIGTERM");
    const timer = new AbortController();
    const outcome = await Promise.race([
      running.exited.then(() => "exited" as const),
      sleep(this.#options.stopTimeoutMs ?? 10_000, "timeout" as const, { signal: timer.signal }).catch(
        () => "exited" as const,
      ),
    ]);
    timer.abort();
    if (outcome === "timeout") await this.kill();
  }

  /** SIGKILL and wait for exit. A no-op when not running. */
  async kill(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    running.child.kill("SIGKILL");
    await running.exited;
  }

  #capture(stream: Readable | null): void {
    if (!stream) return;
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const headRoom = OUTPUT_HEAD_CHARS - this.#outputHead.length;
      if (headRoom > 0) {
        this.#outputHead += chunk.slice(0, headRoom);
        chunk = chunk.slice(headRoom);
      }
      const tail = this.#outputTail + chunk;
      if (tail.length > OUTPUT_TAIL_CHARS) this.#outputTruncated = true;
      this.#outputTail = tail.slice(-OUTPUT_TAIL_CHARS);
    });
    // A pipe is a net.Socket: unref it so an unstopped server never keeps the test process alive.
    (stream as Readable & { unref?: () => void }).unref?.();
  }
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => `    ${line}`)
    .join("\n");
}

/**
 * Starts the process `build` makes for a free port. `freePort()` can race with another process, so when
 * the bind fails ("address already in use") it tries again with a new port, up to `attempts` times.
 */
export async function startOnFreePort(
  build: (port: number) => ManagedProcess | Promise<ManagedProcess>,
  attempts = 3,
): Promise<{ server: ManagedProcess; port: number }> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const server = await build(port);
    try {
      await server.start();
      return { server, port };
    } catch (error) {
      if (attempt < attempts && /address already in use/i.test(server.output())) continue;
      throw error;
    }
  }
}
