import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { HealthState } from "./health-state.js";
import { runService, type RunServiceOptions, type StoppableService } from "./lifecycle.js";
import { createLogger } from "./logger.js";

const here = dirname(fileURLToPath(import.meta.url));

class FakeProcess extends EventEmitter {
  readonly exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
  listening(): number {
    return ["SIGTERM", "SIGINT", "uncaughtException", "unhandledRejection"].reduce(
      (sum, event) => sum + this.listenerCount(event),
      0,
    );
  }
}

function setup(overrides: Partial<RunServiceOptions> = {}) {
  const lines: { level: string; msg: string }[] = [];
  const logger = createLogger({
    service: "test-service",
    level: "debug",
    destination: {
      write: (line: string) => void lines.push(JSON.parse(line) as { level: string; msg: string }),
    },
  });
  const proc = new FakeProcess();
  const health = new HealthState();
  const events: string[] = [];
  const service: StoppableService = {
    stop: () => {
      events.push(`stop (ready=${health.ready})`);
      return Promise.resolve();
    },
  };
  const done = runService({
    name: "test-service",
    logger,
    proc,
    health,
    start: () => {
      events.push("start");
      return Promise.resolve(service);
    },
    ...overrides,
  });
  const started = async (): Promise<void> => {
    await vi.waitFor(() => expect(lines.some((line) => line.msg === "test-service started")).toBe(true));
  };
  return { lines, proc, health, events, done, started, messages: () => lines.map((line) => line.msg) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("runService", () => {
  it("is not ready until started", async () => {
    const { health, started, proc } = setup();
    expect(health.ready).toBe(false);
    await started();
    expect(health.ready).toBe(true);
    proc.emit("SIGTERM", "SIGTERM");
  });

  it.each(["SIGTERM", "SIGINT"] as const)("on %s turns readiness off, stops and exits 0", async (signal) => {
    const { proc, events, done, started, messages } = setup();
    await started();
    proc.emit(signal, signal);
    expect(await done).toBe(0);
    expect(events).toEqual(["start", "stop (ready=false)"]);
    expect(proc.exits).toEqual([0]);
    expect(messages()).toContain("test-service stopped");
    expect(proc.listening()).toBe(0);
  });

  it("stops after start when the signal came during start", async () => {
    let finishStart: (() => void) | undefined;
    const stop = vi.fn(() => Promise.resolve());
    const { proc, done } = setup({
      start: () => new Promise((resolve) => (finishStart = () => resolve({ stop }))),
    });
    await vi.waitFor(() => expect(finishStart).toBeDefined());
    proc.emit("SIGTERM", "SIGTERM");
    await Promise.resolve();
    expect(stop).not.toHaveBeenCalled();
    finishStart?.();
    expect(await done).toBe(0);
    expect(stop).toHaveBeenCalledOnce();
  });

  it("exits 1 on a second signal during shutdown", async () => {
    const { proc, done, started, lines } = setup({
      start: () => Promise.resolve({ stop: () => new Promise(() => {}) }),
    });
    await started();
    proc.emit("SIGTERM", "SIGTERM");
    proc.emit("SIGINT", "SIGINT");
    expect(await done).toBe(1);
    expect(proc.exits).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({
      level: "error",
      msg: "second signal during shutdown of test-service; exiting now",
    });
  });

  it("exits 1 when stop outlasts the shutdown timeout", async () => {
    vi.useFakeTimers();
    const { proc, done, lines } = setup({
      start: () => Promise.resolve({ stop: () => new Promise(() => {}) }),
    });
    await vi.waitFor(() => expect(lines.some((line) => line.msg === "test-service started")).toBe(true));
    proc.emit("SIGTERM", "SIGTERM");
    await vi.advanceTimersByTimeAsync(24_999);
    expect(proc.exits).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(await done).toBe(1);
    expect(lines.at(-1)).toMatchObject({
      level: "error",
      msg: "shutdown of test-service timed out; exiting",
    });
  });

  it("exits 1 when stop fails", async () => {
    const { proc, done, started, lines } = setup({
      start: () => Promise.resolve({ stop: () => Promise.reject(new Error("drain failed")) }),
    });
    await started();
    proc.emit("SIGTERM", "SIGTERM");
    expect(await done).toBe(1);
    expect(lines.at(-1)).toMatchObject({ level: "error", msg: "test-service failed to stop" });
  });

  it("logs fatal and exits 1 when start fails", async () => {
    const { proc, done, lines } = setup({ start: () => Promise.reject(new Error("no database")) });
    expect(await done).toBe(1);
    expect(proc.exits).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({
      level: "fatal",
      msg: "test-service failed to start",
      err: { message: "no database" },
    });
  });

  it("treats a synchronous throw in start as a start failure", async () => {
    const { done } = setup({
      start: () => {
        throw new Error("bad wiring");
      },
    });
    expect(await done).toBe(1);
  });

  it.each([
    ["uncaughtException", "uncaught exception in test-service; stopping"],
    ["unhandledRejection", "unhandled rejection in test-service; stopping"],
  ])("on %s logs fatal, stops in order and exits 1", async (event, message) => {
    const { proc, events, done, started, lines } = setup();
    await started();
    proc.emit(event, new Error("bug"));
    expect(await done).toBe(1);
    expect(events).toEqual(["start", "stop (ready=false)"]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: "fatal",
        msg: message,
        err: expect.objectContaining({ message: "bug" }),
      }),
    );
  });

  it("runs a real process: SIGTERM stops the service and exits 0", async () => {
    const script = join(here, "..", "test", "fixtures", "sigterm-service.ts");
    const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

    await vi.waitFor(() => expect(stdout).toContain("fixture-service started"), {
      timeout: 20_000,
      interval: 20,
    });
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const messages = stdout
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages).toEqual([
      "starting fixture-service",
      "fixture-service started",
      "received SIGTERM; shutting down fixture-service",
      "stop ran",
      "fixture-service stopped",
    ]);
    expect(stderr).toBe("");
  }, 30_000);
});
