import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import { Client, escapeIdentifier } from "pg";
import {
  tryContainerRuntime,
  type StartedContainer,
  type TestcontainersModule,
} from "./container-runtime.js";
import type { ServerKind } from "./server-kind.js";
import { TestkitError, describeError } from "./testkit-error.js";

/** Image used when no server is reachable and a container runtime is available. */
export const POSTGRES_IMAGE = "postgres:16-alpine";

/** The shared local server tried (unless `isolated`) when `DATABASE_URL` is not a PostgreSQL URL. */
export const LOCAL_POSTGRES = { host: "127.0.0.1", port: 5432 } as const;

/** Every database the harness creates is named `ms_test_<random>`. */
export const TEST_DATABASE_PREFIX = "ms_test_";

export interface PostgresServerOptions {
  /**
   * Ignore `DATABASE_URL` and the local server and start a server of our own (a container). Only needed
   * to test server-level behaviour: every handle already gets a fresh database. Default false.
   */
  isolated?: boolean;
  /** How long to wait for a container to be ready. Default 60 000 ms. */
  startTimeoutMs?: number;
}

export interface PostgresServerHandle {
  /** URL of the fresh database, e.g. `postgres://postgres@127.0.0.1:5432/ms_test_3f9a0c1b2d4e`. */
  readonly url: string;
  /** Name of the fresh database. */
  readonly database: string;
  /** True when the server itself is ours (a container). The database is always ours. */
  readonly owned: boolean;
  readonly kind: ServerKind;
  /** Drops the database (`WITH (FORCE)`, closing other sessions) and stops an owned server. Idempotent. */
  stop(): Promise<void>;
}

/**
 * A fresh, empty PostgreSQL database for a test. The server comes from, in order:
 * 1. `DATABASE_URL` when it is a `postgres://` or `postgresql://` URL (unless `isolated`);
 * 2. a server on 127.0.0.1:5432 accepting role `postgres` (or `$PGUSER`, or the OS user) without a
 *    password (unless `isolated`);
 * 3. testcontainers with {@link POSTGRES_IMAGE}, when a container runtime answers.
 * Otherwise throws a `TestkitError` (`NO_BACKEND`). The role used must be allowed to create databases.
 */
export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServerHandle> {
  if (!options.isolated) {
    const envUrl = process.env.DATABASE_URL?.trim();
    if (envUrl !== undefined && /^postgres(ql)?:\/\//i.test(envUrl)) {
      return withFreshDatabase(envUrl, { owned: false, kind: "external" });
    }
    const local = await findLocalServer();
    if (local.url !== undefined) return withFreshDatabase(local.url, { owned: false, kind: "external" });
    const runtime = await tryContainerRuntime();
    if (runtime.ok) return containerPostgres(runtime.testcontainers, options);
    throw noBackend([`local server: ${local.reason}`, `container runtime: ${runtime.reason}`]);
  }
  const runtime = await tryContainerRuntime();
  if (runtime.ok) return containerPostgres(runtime.testcontainers, options);
  throw noBackend([`container runtime: ${runtime.reason}`], true);
}

function noBackend(reasons: readonly string[], isolated = false): TestkitError {
  return new TestkitError(
    "NO_BACKEND",
    `No PostgreSQL server for tests${isolated ? " ({ isolated: true } needs a container runtime)" : ""}. ` +
      "Provide one of:\n" +
      "  1. DATABASE_URL=postgres://user:password@host:5432/db for a role allowed to CREATE DATABASE " +
      "(ignored with { isolated: true });\n" +
      "  2. a server on 127.0.0.1:5432 accepting role postgres without a password (trust auth; ignored " +
      "with { isolated: true });\n" +
      `  3. a Docker-compatible container runtime for testcontainers (${POSTGRES_IMAGE}).\n` +
      reasons.map((reason) => `Tried ${reason}`).join("\n"),
  );
}

async function findLocalServer(): Promise<{ url: string; reason?: never } | { url?: never; reason: string }> {
  const roles = [...new Set(["postgres", process.env.PGUSER, safeUsername()])].filter(
    (role): role is string => role !== undefined && role !== "",
  );
  const failures: string[] = [];
  for (const role of roles) {
    const url = `postgres://${encodeURIComponent(role)}@${LOCAL_POSTGRES.host}:${LOCAL_POSTGRES.port}/postgres`;
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return { url };
    } catch (error) {
      failures.push(`role ${role}: ${describeError(error)}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return { reason: failures.join("; ") };
}

function safeUsername(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

async function withFreshDatabase(
  adminUrl: string,
  server: { owned: boolean; kind: ServerKind; stopServer?: () => Promise<void> },
): Promise<PostgresServerHandle> {
  const database = `${TEST_DATABASE_PREFIX}${randomBytes(6).toString("hex")}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${escapeIdentifier(database)}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  let stopped: Promise<void> | undefined;
  return {
    url: url.toString(),
    database,
    owned: server.owned,
    kind: server.kind,
    stop() {
      stopped ??= (async () => {
        if (server.stopServer) {
          await server.stopServer();
          return;
        }
        // FORCE (PostgreSQL 13+) ends sessions a test left open instead of failing.
        await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${escapeIdentifier(database)} WITH (FORCE)`);
      })();
      return stopped;
    },
  };
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function containerPostgres(
  testcontainers: TestcontainersModule,
  options: PostgresServerOptions,
): Promise<PostgresServerHandle> {
  const { GenericContainer, Wait } = testcontainers;
  const container: StartedContainer = await new GenericContainer(POSTGRES_IMAGE)
    .withEnvironment({ POSTGRES_USER: "postgres", POSTGRES_PASSWORD: "postgres", POSTGRES_DB: "postgres" })
    .withExposedPorts(5432)
    // The entrypoint starts the server twice (init, then for real): wait for the second "ready".
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .withStartupTimeout(options.startTimeoutMs ?? 60_000)
    .start();
  const adminUrl = `postgres://postgres:postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
  try {
    return await withFreshDatabase(adminUrl, {
      owned: true,
      kind: "container",
      stopServer: () => container.stop().then(() => undefined),
    });
  } catch (error) {
    await container.stop();
    throw error;
  }
}
