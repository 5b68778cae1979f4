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
import { TestkitError } from "./testkit-error.js";

/** Image used when no binary is found and a container runtime is available. */
export const NATS_IMAGE = "nats:2.9.10-alpine";

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
   * `system` (default): the resolution order below, the oldest supported server (2.9.10) on this
   * machine. `current`: the server pinned and installed by `.ci/install-nats` (its cache dir), always a
   * server of our own (as `isolated`); a `TestkitError` (`NO_BACKEND`) naming the script when absent.
   */
  version?: "system" | "current";
}

export interface NatsServerHandle {
  /** Client URL, e.g. `nats://127.0.0.1:42817` (as given when taken from `NATS_URL`). */
  readonly url: string;
  /** Client port, when known. */
  readonly port: number | undefined;
  /** True when the harness started the server (so `start`/`restart`/`kill` are allowed). */
  readonly owned: boolean;
  readonly kind: ServerKind;
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
 * 2. A `nats-server` binary (PATH, /usr/sbin, /usr/local/bin): spawned on free ports, JetStream in a temp dir.
 * 3. testcontainers with {@link NATS_IMAGE}, when a container runtime answers.
 * Otherwise throws a `TestkitError` (`NO_BACKEND`) naming the three options.
 */
export async function startNats(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const jetstream = options.jetstream ?? true;
  if (options.version === "current") return spawnNats(currentNatsServer(), jetstream, options);
  const envUrl = process.env.NATS_URL;
  if (!options.isolated && envUrl !== undefined && envUrl.trim() !== "") return externalNats(envUrl.trim());

  const binary = findBinary("nats-server");
  if (binary !== undefined) return spawnNats(binary, jetstream, options);

  const runtime = await tryContainerRuntime();
  if (runtime.ok) return containerNats(runtime.testcontainers, jetstream, options);

  throw new TestkitError(
    "NO_BACKEND",
    "No NATS server for tests. Provide one of:\n" +
      "  1. NATS_URL=nats://host:4222 pointing at a running server (ignored with { isolated: true });\n" +
      "  2. a nats-server binary on PATH or in /usr/sbin or /usr/local/bin " +
      "(apt-get install nats-server, or https://github.com/nats-io/nats-server/releases);\n" +
      `  3. a Docker-compatible container runtime for testcontainers (${NATS_IMAGE}).\n` +
      `Container runtime probe: ${runtime.reason}`,
  );
}

/** The `nats-server` binary `.ci/install-nats` installs; throws a one-line `TestkitError` when absent. */
export function currentNatsServer(): string {
  const { version, serverPath } = currentNatsBinaries();
  if (isExecutable(serverPath)) return serverPath;
  throw new TestkitError(
    "NO_BACKEND",
    `NATS server ${version} is not installed at ${serverPath}: run ${INSTALL_NATS_SCRIPT} (once; needs Go)`,
  );
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

  let started: { server: ManagedProcess; port: number };
  try {
    started = await startOnFreePort(async (port) => {
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

  const { server, port } = started;
  let stopped = false;
  const start = async (): Promise<void> => {
    // After stop() the store dir is gone: come back with an empty one.
    if (storeDir !== undefined) mkdirSync(storeDir, { recursive: true });
    stopped = false;
    await server.start();
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    owned: true,
    kind: "process",
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
  };
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
  jetstream: boolean,
  options: NatsServerOptions,
): Promise<NatsServerHandle> {
  const { GenericContainer, Wait } = testcontainers;
  const container = await new GenericContainer(NATS_IMAGE)
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
  return {
    // Read afresh: a container that starts again may get new host ports.
    get url() {
      return `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
    },
    get port() {
      return container.getMappedPort(4222);
    },
    owned: true,
    kind: "container",
    storeDir: undefined,
    ...lifecycle,
  };
}
