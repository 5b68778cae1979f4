import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerLifecycle, tryContainerRuntime, type TestcontainersModule } from "./container-runtime.js";
import { onProcessExit } from "./exit-cleanup.js";
import type { ServerKind } from "./server-kind.js";
import { INSTALL_NATS_SCRIPT, currentNatsBinaries, findBinary, isExecutable } from "./find-binary.js";
import { freePort } from "./free-port.js";
import { ManagedProcess, startOnFreePort } from "./managed-process.js";
import { TestkitError, describeError } from "./testkit-error.js";

/** Image of the oldest supported server, used when no binary is found and a container runtime answers. */
export const NATS_IMAGE = "nats:2.9.10-alpine";

/**
 * Which NATS server the tests run on when a test does not ask for one: `current` (the default), the server
 * `.ci/install-nats` pins, or `oldest`, the oldest supported (Debian's 2.9.10 on PATH / in /usr/sbin), for
 * the compatibility pass. Set with `MARKET_SCRAPER_NATS`.
 */
export type NatsVersionChoice = "current" | "oldest";

/** The environment variable that selects {@link NatsVersionChoice} (default `current`). */
export const NATS_VERSION_ENV = "MARKET_SCRAPER_NATS";
/** The environment variable naming a `nats-server` binary to use instead of the pinned current one. */
export const NATS_SERVER_BIN_ENV = "NATS_SERVER_BIN";

export interface NatsServerOptions {
  /** Start with JetStream (`-js`, with a fresh store dir). Default true. */
  jetstream?: boolean;
  /**
   * Ignore `NATS_URL` and start a server of our own, so the test may restart or kill it (fault
   * injection) and sees no other test's streams. Default false.
   */
  isolated?: boolean;
  /** Extra `nats-server` arguments, appended to the command line. */
  args?: readonly string[];
  /** How long to wait for the server to be ready. Default 20 000 ms. */
  startTimeoutMs?: number;
  /**
   * Unset (default): the suite's choice, `MARKET_SCRAPER_NATS` (see {@link startNats}). `current`: exactly
   * the server pinned and installed by `.ci/install-nats` (its cache dir, or `NATS_SERVER_BIN`), always a
   * server of our own (as `isolated`); a `TestkitError` (`NO_BACKEND`) naming the script when absent. For
   * tests that need a feature the oldest server lacks.
   */
  version?: "current";
}

export interface NatsServerHandle {
  /** Client URL, e.g. `nats://127.0.0.1:42817` (as given when taken from `NATS_URL`). */
  readonly url: string;
  /** Client port, when known. */
  readonly port: number | undefined;
  /** True when the harness started the server (so `start`/`restart`/`kill` are allowed). */
  readonly owned: boolean;
  readonly kind: ServerKind;
  /** The server's version (`2.15.3`), when known: not for a server from `NATS_URL`. */
  readonly version: string | undefined;
  /** JetStream store directory on this machine (spawned server with JetStream only). */
  readonly storeDir: string | undefined;
  /** Brings a killed or stopped server back up on the same port (and store dir); no-op when server. */
  start(): Promise<void>;
  /** Shuts the server down and deletes its store dir. Idempotent; a no-op for a server not owned. */
  stop(): Promise<void>;
  /** Graceful stop (SIGTERM, wait for exit), then `start()`: same port, same JetStream data. */
  restart(): Promise<void>;
  /** SIGKILL and wait for exit. The server stays down until `start()` or `restart()`. */
  kill(): Promise<void>;
}

/**
 * A NATS server for a test. Resolution order:
 * 1. `NATS_URL` from the environment (unless `isolated`): used as is, not owned.
 * 2. A `nats-server` binary, spawned on free ports, JetStream in a temp dir. Which one:
 *    `MARKET_SCRAPER_NATS=current` (default): `NATS_SERVER_BIN`, else the server `.ci/install-nats`
 *    installed, else the one on PATH / in /usr/sbin, /usr/local/bin; `MARKET_SCRAPER_NATS=oldest`: the one
 *    on PATH / in /usr/sbin (Debian's 2.9.10).
 * 3. testcontainers with the chosen version's image (`nats:<version>-alpine`), when a container runtime
 *    answers.
 * Otherwise throws a `TestkitError` (`NO_BACKEND`) naming the options. Every server started is recorded
 * for {@link natsServersStarted} (the suite prints which version each test file ran on).
 */
export async function startNats(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const jetstream = options.jetstream ?? true;
  if (options.version === "current") return spawnNats(currentNatsServer(), jetstream, options);
  const choice = natsVersionChoice();
  const envUrl = process.env.NATS_URL;
  if (!options.isolated && envUrl !== undefined && envUrl.trim() !== "") {
    return recorded(externalNats(envUrl.trim()));
  }

  const binary =
    choice === "current"
      ? (installedCurrentServer() ?? findBinary("nats-server"))
      : findBinary("nats-server");
  if (binary !== undefined) return spawnNats(binary, jetstream, options);

  const image = choice === "current" ? `nats:${currentNatsBinaries().version}-alpine` : NATS_IMAGE;
  const runtime = await tryContainerRuntime();
  if (runtime.ok) return containerNats(runtime.testcontainers, image, jetstream, options);

  throw new TestkitError(
    "NO_BACKEND",
    "No NATS server for tests. Provide one of:\n" +
      "  1. NATS_URL=nats://host:4222 pointing at a running server (ignored with { isolated: true });\n" +
      `  2. the current nats-server (${INSTALL_NATS_SCRIPT} installs it), or a nats-server binary on PATH ` +
      "or in /usr/sbin or /usr/local/bin (apt-get install nats-server);\n" +
      `  3. a Docker-compatible container runtime for testcontainers (${image}).\n` +
      `Container runtime probe: ${runtime.reason}`,
  );
}

/** `MARKET_SCRAPER_NATS`: `current` (also when unset or empty) or `oldest`; anything else is an error. */
export function natsVersionChoice(env: NodeJS.ProcessEnv = process.env): NatsVersionChoice {
  const value = env[NATS_VERSION_ENV]?.trim() ?? "";
  if (value === "" || value === "current") return "current";
  if (value === "oldest") return "oldest";
  throw new TestkitError(
    "BAD_OPTION",
    `${NATS_VERSION_ENV}=${JSON.stringify(value)}: expected "current" (the default) or "oldest"`,
  );
}

/** `NATS_SERVER_BIN`, else the pinned server when `.ci/install-nats` has installed it. */
function installedCurrentServer(): string | undefined {
  const fromEnv = process.env[NATS_SERVER_BIN_ENV]?.trim();
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const { serverPath } = currentNatsBinaries();
  return isExecutable(serverPath) ? serverPath : undefined;
}

/**
 * The current `nats-server`: `NATS_SERVER_BIN`, else the one `.ci/install-nats` installs; a one-line
 * `TestkitError` naming the script when it is not installed.
 */
export function currentNatsServer(): string {
  const installed = installedCurrentServer();
  if (installed !== undefined) return installed;
  const { version, serverPath } = currentNatsBinaries();
  throw new TestkitError(
    "NO_BACKEND",
    `NATS server ${version} is not installed at ${serverPath}: run ${INSTALL_NATS_SCRIPT} (once; needs Go)`,
  );
}

/** A server this process started (or was given by `NATS_URL`), as {@link natsServersStarted} lists it. */
export interface NatsServerRecord {
  readonly kind: ServerKind;
  /** `2.15.3`; undefined for a server from `NATS_URL`. */
  readonly version: string | undefined;
  /** The binary or image; the URL for an external server. */
  readonly from: string;
}

const started: NatsServerRecord[] = [];

/** Every NATS server `startNats` has started (or taken from `NATS_URL`) in this process, in order. */
export function natsServersStarted(): readonly NatsServerRecord[] {
  return started;
}

/**
 * One line naming the versions of {@link natsServersStarted}: `nats-server 2.15.3`, `nats-server 2.9.10,
 * 2.15.3`, `nats-server from NATS_URL nats://…`; undefined when none was started.
 */
export function natsServersSummary(): string | undefined {
  if (started.length === 0) return undefined;
  const names = new Set(started.map((s) => s.version ?? `from NATS_URL ${s.from}`));
  return `nats-server ${[...names].join(", ")}`;
}

function recorded(handle: NatsServerHandle, from?: string): NatsServerHandle {
  started.push({ kind: handle.kind, version: handle.version, from: from ?? handle.url });
  return handle;
}

const versions = new Map<string, string>();

/** `nats-server --version` (`nats-server: v2.9.10`) → `2.9.10`, once per binary. */
function binaryVersion(binary: string): string {
  let version = versions.get(binary);
  if (version === undefined) {
    let out: string;
    try {
      out = execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 });
    } catch (error) {
      throw new TestkitError("START_FAILED", `${binary} --version failed: ${describeError(error)}`, {
        cause: error,
      });
    }
    version = /v?(\d+\.\d+\.\d+\S*)/.exec(out)?.[1] ?? out.trim();
    versions.set(binary, version);
  }
  return version;
}

function notOwned(what: string): Promise<never> {
  return Promise.reject(
    new TestkitError(
      "NOT_OWNED",
      `Cannot ${what} the NATS server from NATS_URL: it is not ours. Fault injection needs ` +
        "startNats({ isolated: true }), which starts a private server.",
    ),
  );
}

function externalNats(url: string): NatsServerHandle {
  return {
    url,
    port: portOf(url),
    owned: false,
    kind: "external",
    version: undefined,
    storeDir: undefined,
    start: () => notOwned("start"),
    stop: () => Promise.resolve(),
    restart: () => notOwned("restart"),
    kill: () => notOwned("kill"),
  };
}

function portOf(urls: string): number | undefined {
  const first = urls.split(",")[0]?.trim() ?? "";
  try {
    const parsed = new URL(first.includes("://") ? first : `nats://${first}`);
    return parsed.port === "" ? 4222 : Number(parsed.port);
  } catch {
    return undefined;
  }
}

async function spawnNats(
  binary: string,
  jetstream: boolean,
  options: NatsServerOptions,
): Promise<NatsServerHandle> {
  const storeDir = jetstream ? await mkdtemp(join(tmpdir(), "ms-testkit-nats-")) : undefined;
  const unregisterDir = storeDir === undefined ? () => undefined : onProcessExit(() => removeSync(storeDir));

  const version = binaryVersion(binary);
  let spawned: { server: ManagedProcess; port: number };
  try {
    spawned = await startOnFreePort(async (port) => {
      const monitorPort = await freePort();
      return new ManagedProcess({
        name: "nats-server",
        command: binary,
        args: [
          ...["-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort)],
          ...(storeDir === undefined ? [] : ["-js", "-sd", storeDir]),
          ...(options.args ?? []),
        ],
        isReady: () => healthy(monitorPort, jetstream),
        readyTimeoutMs: options.startTimeoutMs ?? 20_000,
      });
    });
  } catch (error) {
    unregisterDir();
    if (storeDir !== undefined) await rm(storeDir, { recursive: true, force: true });
    throw error;
  }

  const { server, port } = spawned;
  let stopped = false;
  const start = async (): Promise<void> => {
    // After stop() the store dir is gone: come back with an empty one.
    if (storeDir !== undefined) mkdirSync(storeDir, { recursive: true });
    stopped = false;
    await server.start();
  };
  return recorded(
    {
      url: `nats://127.0.0.1:${port}`,
      port,
      owned: true,
      kind: "process",
      version,
      storeDir,
      start,
      async stop() {
        if (stopped) return;
        stopped = true;
        await server.stop();
        if (storeDir !== undefined) await rm(storeDir, { recursive: true, force: true });
      },
      async restart() {
        await server.stop();
        await start();
      },
      kill: () => server.kill(),
    },
    binary,
  );
}

async function healthy(monitorPort: number, jetstream: boolean): Promise<boolean> {
  const path = jetstream ? "/healthz?js-enabled-only=true" : "/healthz";
  const response = await fetch(`http://127.0.0.1:${monitorPort}${path}`, {
    signal: AbortSignal.timeout(1_000),
  });
  await response.body?.cancel();
  return response.ok;
}

function removeSync(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

async function containerNats(
  testcontainers: TestcontainersModule,
  image: string,
  jetstream: boolean,
  options: NatsServerOptions,
): Promise<NatsServerHandle> {
  const { GenericContainer, Wait } = testcontainers;
  const container = await new GenericContainer(image)
    .withCommand([
      "nats-server",
      "-m",
      "8222",
      ...(jetstream ? ["-js", "-sd", "/data"] : []),
      ...(options.args ?? []),
    ])
    .withExposedPorts(4222, 8222)
    .withWaitStrategy(
      Wait.forHttp(jetstream ? "/healthz?js-enabled-only=true" : "/healthz", 8222).forStatusCode(200),
    )
    .withStartupTimeout(options.startTimeoutMs ?? 60_000)
    .start();
  const lifecycle = containerLifecycle(testcontainers, container);
  const handle: NatsServerHandle = {
    // Read afresh: a container that starts again may get new host ports.
    get url() {
      return `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
    },
    get port() {
      return container.getMappedPort(4222);
    },
    owned: true,
    kind: "container",
    version: /:(\d[^-]*)/.exec(image)?.[1],
    storeDir: undefined,
    ...lifecycle,
  };
  return recorded(handle, image);
}
