import { mkdirSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { containerLifecycle, tryContainerRuntime, type TestcontainersModule } from "./container-runtime.js";
import { onProcessExit } from "./exit-cleanup.js";
import { findBinary } from "./find-binary.js";
import { ManagedProcess, startOnFreePort } from "./managed-process.js";
import type { ServerKind } from "./server-kind.js";
import { TestkitError } from "./testkit-error.js";

/** Image used when no binary is found and a container runtime is available. */
export const REDIS_IMAGE = "redis:7-alpine";

/** The shared local server tried (unless `isolated`) when `REDIS_URL` is not set. */
export const LOCAL_REDIS_URL = "redis://127.0.0.1:6379";

export interface RedisServerOptions {
  /**
   * Ignore `REDIS_URL` and the shared local server and start a server of our own, so the test may
   * restart or kill it and has the keyspace to itself. Default false.
   */
  isolated?: boolean;
  /** Extra `redis-server` arguments, appended to the command line (e.g. `["--appendonly", "yes"]`). */
  args?: readonly string[];
  /** How long to wait for the server to answer PING. Default 20 000 ms. */
  startTimeoutMs?: number;
}

export interface RedisServerHandle {
  /** Client URL, e.g. `redis://127.0.0.1:38211`. */
  readonly url: string;
  readonly port: number | undefined;
  /** True when the harness started the server (so `start`/`restart`/`kill` are allowed). */
  readonly owned: boolean;
  readonly kind: ServerKind;
  /** Brings a killed or stopped server back up on the same port; no-op when server. */
  start(): Promise<void>;
  /** Shuts the server down. Idempotent; a no-op for a server not owned. */
  stop(): Promise<void>;
  /** Graceful stop (SIGTERM, wait for exit), then `start()` on the same port. */
  restart(): Promise<void>;
  /** SIGKILL and wait for exit. The server stays down until `start()` or `restart()`. */
  kill(): Promise<void>;
}

/**
 * A Redis server for a test. Resolution order:
 * 1. `REDIS_URL` from the environment (unless `isolated`): used as is, not owned.
 * 2. A server answering PING on 127.0.0.1:6379 (unless `isolated`): shared, not owned.
 * 3. A `redis-server` binary (PATH, /usr/sbin, /usr/local/bin, /usr/bin): spawned on a free port, no persistence.
 * 4. testcontainers with {@link REDIS_IMAGE}, when a container runtime answers.
 * Otherwise throws a `TestkitError` (`NO_BACKEND`). A shared server is shared: prefix your keys.
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  if (!options.isolated) {
    const envUrl = process.env.REDIS_URL;
    if (envUrl !== undefined && envUrl.trim() !== "") return externalRedis(envUrl.trim());
    if (await redisAnswersPing(LOCAL_REDIS_URL)) return externalRedis(LOCAL_REDIS_URL);
  }

  const binary = findBinary("redis-server");
  if (binary !== undefined) return spawnRedis(binary, options);

  const runtime = await tryContainerRuntime();
  if (runtime.ok) return containerRedis(runtime.testcontainers, options);

  throw new TestkitError(
    "NO_BACKEND",
    "No Redis server for tests. Provide one of:\n" +
      "  1. REDIS_URL=redis://host:6379 pointing at a running server, or a server on 127.0.0.1:6379 " +
      "(both ignored with { isolated: true });\n" +
      "  2. a redis-server binary on PATH or in /usr/sbin, /usr/local/bin or /usr/bin (apt-get install redis-server);\n" +
      `  3. a Docker-compatible container runtime for testcontainers (${REDIS_IMAGE}).\n` +
      `Container runtime probe: ${runtime.reason}`,
  );
}

/** True when a Redis server at `url` answers PING within `timeoutMs`. Never throws. */
export async function redisAnswersPing(url: string, timeoutMs = 1_000): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Without a listener ioredis reports connection errors on the console.
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function notOwned(what: string): Promise<never> {
  return Promise.reject(
    new TestkitError(
      "NOT_OWNED",
      `Cannot ${what} a shared Redis server (REDIS_URL or 127.0.0.1:6379): it is not ours. Fault injection ` +
        "needs startRedis({ isolated: true }), which starts a private server.",
    ),
  );
}

function externalRedis(url: string): RedisServerHandle {
  let port: number | undefined;
  try {
    const parsed = new URL(url);
    port = parsed.port === "" ? 6379 : Number(parsed.port);
  } catch {
    port = undefined;
  }
  return {
    url,
    port,
    owned: false,
    kind: "external",
    start: () => notOwned("start"),
    stop: () => Promise.resolve(),
    restart: () => notOwned("restart"),
    kill: () => notOwned("kill"),
  };
}

async function spawnRedis(binary: string, options: RedisServerOptions): Promise<RedisServerHandle> {
  // A working dir of its own, so nothing (dump.rdb, appendonly files from `args`) lands in the repo.
  const dir = await mkdtemp(join(tmpdir(), "ms-testkit-redis-"));
  const unregisterDir = onProcessExit(() => rmSync(dir, { recursive: true, force: true }));

  let started: { server: ManagedProcess; port: number };
  try {
    started = await startOnFreePort(
      (port) =>
        new ManagedProcess({
          name: "redis-server",
          command: binary,
          args: [
            ...["--bind", "127.0.0.1", "--port", String(port), "--dir", dir],
            ...["--save", "", "--appendonly", "no", "--daemonize", "no"],
            ...(options.args ?? []),
          ],
          isReady: () => redisAnswersPing(`redis://127.0.0.1:${port}`),
          readyTimeoutMs: options.startTimeoutMs ?? 20_000,
        }),
    );
  } catch (error) {
    unregisterDir();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const { server, port } = started;
  let stopped = false;
  const start = async (): Promise<void> => {
    mkdirSync(dir, { recursive: true });
    stopped = false;
    await server.start();
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    owned: true,
    kind: "process",
    start,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await server.stop();
      await start();
    },
    kill: () => server.kill(),
  };
}

async function containerRedis(
  testcontainers: TestcontainersModule,
  options: RedisServerOptions,
): Promise<RedisServerHandle> {
  const { GenericContainer, Wait } = testcontainers;
  const container = await new GenericContainer(REDIS_IMAGE)
    .withCommand(["redis-server", "--save", "", "--appendonly", "no", ...(options.args ?? [])])
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .withStartupTimeout(options.startTimeoutMs ?? 60_000)
    .start();
  const lifecycle = containerLifecycle(testcontainers, container);
  return {
    // Read afresh: a container that starts again may get a new host port.
    get url() {
      return `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    },
    get port() {
      return container.getMappedPort(6379);
    },
    owned: true,
    kind: "container",
    ...lifecycle,
  };
}
