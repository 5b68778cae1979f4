import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { type IncomingMessage, request as httpRequest } from "node:http";
import { type Socket, connect as netConnect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MemoryEventBus, NatsEventBus } from "@market-scraper/bus";
import { type StandardEvent, isMarketDataType, markProcessed } from "@market-scraper/events";
import { HealthState, type Logger, type Registry, createLogger, parseEnv } from "@market-scraper/runtime";
import { freePort, waitFor } from "@market-scraper/testkit";
import { type ClientOptions, WebSocket } from "ws";
import {
  type GatewayService,
  type GatewayServiceConfig,
  LocalStorageClient,
  NatsStorageClient,
  type StorageQueryRunner,
  createGatewayService,
  gatewayEnv,
} from "../src/index.js";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const STORAGE_DIR = join(REPO_ROOT, "services", "storage-service");

export const logger: Logger = createLogger({
  service: "gateway-test",
  level: (process.env.TEST_LOG_LEVEL as "silent" | undefined) ?? "silent",
});

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** The services whose built entry the tests spawn, with the sources their dist/ is built from. */
const BUILT_FROM: Readonly<Record<BuiltService, readonly string[]>> = {
  "storage-service": ["storage-service"],
  "gateway-service": ["gateway-service"],
  standalone: ["standalone", "gateway-service", "storage-service"],
};
type BuiltService = "storage-service" | "gateway-service" | "standalone";

/**
 * A service's built entry (`services/<name>/dist/main.js`). `pnpm test` builds it first (turbo); a direct
 * `vitest run` of this service builds it here when dist/ is missing or older than its sources.
 */
export function ensureBuilt(service: BuiltService): string {
  const dir = join(REPO_ROOT, "services", service);
  const main = join(dir, "dist", "main.js");
  const sources = () =>
    Math.max(...BUILT_FROM[service].map((name) => newestMtime(join(REPO_ROOT, "services", name, "src"))));
  const stale = () => !existsSync(main) || statSync(main).mtimeMs < sources();
  if (!stale()) return main;
  // Test files run in parallel workers: one builds, the others wait for it (mkdir is atomic).
  const lock = join(tmpdir(), `market-scraper-build-${service}.lock`);
  for (let waited = 0; ; waited += 200) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (waited > 180_000) rmSync(lock, { recursive: true, force: true }); // left by a killed run
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (stale()) {
      try {
        execFileSync("pnpm", ["exec", "turbo", "run", "build", `--filter=@market-scraper/${service}`], {
          cwd: REPO_ROOT,
          stdio: "pipe",
        });
      } catch (error) {
        const output = String((error as { stdout?: Buffer }).stdout ?? "").slice(-4000);
        // Sources being edited may not compile right now: an existing build is still the real service.
        if (!existsSync(main)) throw new Error(`cannot build ${service}:\n${output}`, { cause: error });
        console.warn(`${service} did not build; testing its previous dist/:\n${output}`);
      }
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return main;
}

/**
 * Kills `child` when the test process exits or is terminated (vitest ends its workers with SIGTERM),
 * so no server outlives a test run. Returns the kill function.
 */
export function killWithTestProcess(child: ChildProcess): () => void {
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const onSignal = (signal: NodeJS.Signals) => {
    kill();
    detach();
    process.kill(process.pid, signal); // then die of it, as without this handler
  };
  const detach = () => {
    process.off("exit", kill);
    for (const signal of SIGNALS) process.off(signal, onSignal);
  };
  process.once("exit", kill);
  for (const signal of SIGNALS) process.once(signal, onSignal);
  child.once("exit", detach);
  return kill;
}

const SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];

export interface StorageProcess {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** The real storage service (`dist/main.js`) on SQLite in memory, consuming from `natsUrl`. */
export function startStorageProcess(natsUrl: string): Promise<StorageProcess> {
  return startServiceProcess("storage-service", STORAGE_DIR, {
    NATS_URL: natsUrl,
    DATABASE_URL: "sqlite::memory:",
    LOG_LEVEL: "warn",
    STORAGE_FLUSH_MS: "20ms",
  });
}

/**
 * `standalone` (`services/standalone/dist/main.js`) run from the repository root as the README runs it,
 * with `env` (e.g. `REPLAY_FILE`); its gateway (and health) on a free `HTTP_PORT`.
 */
export function startStandaloneProcess(env: Record<string, string>): Promise<StorageProcess> {
  return startServiceProcess("standalone", REPO_ROOT, { LOG_LEVEL: "warn", ...env });
}

/** A built service as a child process on a free `HTTP_PORT`, once its `/readyz` says ready. */
async function startServiceProcess(
  service: BuiltService,
  cwd: string,
  env: Record<string, string>,
): Promise<StorageProcess> {
  const main = ensureBuilt(service);
  const port = await freePort();
  let output = "";
  const child: ChildProcess = spawn(process.execPath, [main], {
    cwd,
    env: { ...process.env, ...env, HTTP_PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = killWithTestProcess(child);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${service} exited with ${child.exitCode}: ${output}`);
      return (await fetch(`${url}/readyz`)).ok;
    },
    { timeoutMs: 30_000, message: `${service} ready` },
  );
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(kill, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The gateway's config for tests: defaults, a free port, then `overrides`. */
export function gatewayConfig(overrides: Partial<GatewayServiceConfig> = {}): GatewayServiceConfig {
  return { ...parseEnv(gatewayEnv, {}), HTTP_PORT: 0, ...overrides };
}

export interface RunningGateway {
  readonly gateway: GatewayService;
  readonly bus: NatsEventBus;
  readonly url: string;
  readonly health: HealthState;
  stop(): Promise<void>;
}

/** A gateway built with its factory, on its own NATS connection, as main.ts wires it. */
export async function startGateway(
  natsUrl: string,
  options: { config?: Partial<GatewayServiceConfig>; storageTimeoutMs?: number; clock?: () => number } = {},
): Promise<RunningGateway> {
  const bus = await NatsEventBus.connect({ servers: natsUrl, ensureStreams: false, publishMode: "core" });
  const storage = new NatsStorageClient({
    connection: () => bus.connection,
    timeoutMs: options.storageTimeoutMs ?? 5_000,
  });
  const health = new HealthState();
  const gateway = createGatewayService({
    bus,
    storage,
    logger,
    health,
    host: "127.0.0.1",
    config: gatewayConfig(options.config),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  await gateway.start();
  return {
    gateway,
    bus,
    health,
    url: gateway.url,
    async stop() {
      await gateway.stop();
      await bus.close();
    },
  };
}

export interface MemoryGateway {
  readonly gateway: GatewayService;
  readonly bus: MemoryEventBus;
  readonly url: string;
  stop(): Promise<void>;
}

/** The gateway over MemoryEventBus and an in-process storage client, as `standalone` runs it. */
export async function startMemoryGateway(
  run: StorageQueryRunner,
  options: {
    config?: Partial<GatewayServiceConfig>;
    registry?: Registry;
    logger?: Logger;
    health?: HealthState;
  } = {},
): Promise<MemoryGateway> {
  const bus = new MemoryEventBus();
  const gateway = createGatewayService({
    bus,
    storage: new LocalStorageClient(run),
    logger: options.logger ?? logger,
    health: options.health ?? new HealthState(),
    host: "127.0.0.1",
    config: gatewayConfig(options.config),
    ...(options.registry === undefined ? {} : { registry: options.registry }),
  });
  await gateway.start();
  return {
    gateway,
    bus,
    url: gateway.url,
    async stop() {
      await gateway.stop();
      await bus.close();
    },
  };
}

/** A publisher like the processors: JetStream publishes, streams ensured. */
export function connectPublisher(natsUrl: string): Promise<NatsEventBus> {
  return NatsEventBus.connect({ servers: natsUrl });
}

/** Publishes events as a processor would (`processed.*` for market data), and waits until sent. */
export async function publishProcessed(
  bus: NatsEventBus,
  events: readonly StandardEvent[],
): Promise<StandardEvent[]> {
  const out = events.map((e) => (isMarketDataType(e.event_type) ? markProcessed(e) : e));
  await Promise.all(out.map((e) => bus.publish(e)));
  await bus.flush();
  return out;
}

export interface Frame {
  type: string;
  [key: string]: unknown;
}

/** A WebSocket client that records every frame and can wait for one. */
export class TestSocket {
  readonly frames: Frame[] = [];
  readonly ws: WebSocket;
  /** The TCP socket under the WebSocket (to pause reading, like a slow client). */
  tcp: Socket | undefined;
  closed: { code: number; reason: string } | undefined;
  readonly #opened: Promise<void>;

  constructor(url: string, options: { headers?: Record<string, string>; autoPong?: boolean } = {}) {
    this.ws = new WebSocket(url, {
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      autoPong: options.autoPong ?? true,
      createConnection: (opts: { host?: string; port?: number }) => {
        this.tcp = netConnect({ host: opts.host ?? "127.0.0.1", port: Number(opts.port) });
        return this.tcp;
      },
    } as ClientOptions);
    this.ws.on("message", (data: Buffer) => this.frames.push(JSON.parse(data.toString("utf8")) as Frame));
    this.ws.on("close", (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.ws.on("error", () => undefined);
    this.#opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("unexpected-response", (_req, res: IncomingMessage) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
      this.ws.once("error", reject);
    });
  }

  static async open(
    url: string,
    options: { headers?: Record<string, string>; autoPong?: boolean } = {},
  ): Promise<TestSocket> {
    const socket = new TestSocket(url, options);
    await socket.#opened;
    return socket;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** Waits for the first frame after index `from` that matches. */
  async next(match: (frame: Frame) => boolean, from = 0, timeoutMs = 10_000): Promise<Frame> {
    return waitFor(() => this.frames.slice(from).find(match), {
      timeoutMs,
      intervalMs: 10,
      message: "a frame",
    });
  }

  /** Sends a message and waits for the next frame of `type` it causes. */
  async request(message: unknown, type: string): Promise<Frame> {
    const from = this.frames.length;
    this.send(message);
    return this.next((f) => f.type === type || f.type === "error", from);
  }

  events(): StandardEvent[] {
    return this.frames.filter((f) => f.type === "event").map((f) => f.event as StandardEvent);
  }

  async waitClosed(timeoutMs = 30_000): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closed, { timeoutMs, intervalMs: 10, message: "the socket to close" });
  }

  close(): void {
    this.ws.terminate();
  }
}

export interface SseMessage {
  event: string;
  id: string | undefined;
  data: string;
}

/** An SSE client on node:http that records every message. */
export class TestSse {
  readonly messages: SseMessage[] = [];
  /** Comment lines (keep-alives). */
  comments = 0;
  response: IncomingMessage | undefined;
  ended = false;
  readonly #request: ReturnType<typeof httpRequest>;
  #buffer = "";

  private constructor(
    url: string,
    headers: Record<string, string>,
    onResponse: (res: IncomingMessage) => void,
  ) {
    this.#request = httpRequest(url, { headers: { accept: "text/event-stream", ...headers } }, (res) => {
      this.response = res;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => this.#feed(chunk));
      res.on("end", () => (this.ended = true));
      res.on("close", () => (this.ended = true));
      res.on("error", () => undefined);
      onResponse(res);
    });
    this.#request.on("error", () => (this.ended = true));
    this.#request.end();
  }

  static open(url: string, headers: Record<string, string> = {}): Promise<TestSse> {
    return new Promise((resolve) => {
      const sse: TestSse = new TestSse(url, headers, () => resolve(sse));
    });
  }

  #feed(chunk: string): void {
    this.#buffer += chunk;
    let end: number;
    while ((end = this.#buffer.indexOf("\n\n")) !== -1) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let event = "message";
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) {
          this.comments++;
          continue;
        }
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "id") id = value;
        else if (field === "data") data.push(value);
      }
      if (data.length > 0) this.messages.push({ event, id, data: data.join("\n") });
    }
  }

  events(): StandardEvent[] {
    return this.messages.filter((m) => m.event === "message").map((m) => JSON.parse(m.data) as StandardEvent);
  }

  async next(event: string, timeoutMs = 10_000): Promise<SseMessage> {
    return waitFor(() => this.messages.find((m) => m.event === event), {
      timeoutMs,
      intervalMs: 10,
      message: `SSE ${event}`,
    });
  }

  async text(): Promise<string> {
    return new Promise((resolve) => {
      let body = "";
      const res = this.response!;
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(body));
    });
  }

  close(): void {
    this.#request.destroy();
  }
}

/** The sum of the samples of `name` on `${baseUrl}/metrics` whose labels include `label` (`reason="x"`). */
export async function metricValue(baseUrl: string, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return text
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) && line.includes(label))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

/** `fetch` with an API key header. */
export function get(url: string, key?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (key !== undefined) headers.set("authorization", `Bearer ${key}`);
  return fetch(url, { ...init, headers });
}

export async function getJson<T = Record<string, unknown>>(
  url: string,
  key?: string,
): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await get(url, key);
  return { status: response.status, body: (await response.json()) as T, headers: response.headers };
}

/** A request with any method and body (fetch refuses a body on GET). */
export function rawRequest(
  url: string,
  method: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
