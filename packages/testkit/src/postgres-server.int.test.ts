import { Client } from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { tryContainerRuntime } from "./container-runtime.js";
import { startPostgres, type PostgresServerHandle } from "./postgres-server.js";

async function query<R extends Record<string, unknown>>(url: string, sql: string): Promise<R[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("startPostgres", () => {
  let server: PostgresServerHandle | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    vi.unstubAllEnvs();
  });

  it("creates a fresh, usable database and drops it on stop()", async () => {
    vi.stubEnv("DATABASE_URL", "");
    server = await startPostgres();
    expect(server.database).toMatch(/^ms_test_[0-9a-f]{12}$/);
    expect(new URL(server.url).pathname).toBe(`/${server.database}`);

    expect(await query(server.url, "SELECT current_database() AS db")).toEqual([{ db: server.database }]);
    expect(
      await query(server.url, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'"),
    ).toEqual([{ n: 0 }]);
    await query(server.url, "CREATE TABLE t (id int PRIMARY KEY, name text)");
    await query(server.url, "INSERT INTO t VALUES (1, 'one')");
    expect(await query(server.url, "SELECT * FROM t")).toEqual([{ id: 1, name: "one" }]);

    // A session left open does not stop the drop (WITH (FORCE)).
    const open = new Client({ connectionString: server.url });
    open.on("error", () => undefined);
    await open.connect();

    const { url } = server;
    await server.stop();
    await server.stop(); // idempotent
    await expect(query(url, "SELECT 1")).rejects.toThrow(/does not exist/);
    await open.end().catch(() => undefined);
  });

  it("gives each handle its own database", async () => {
    vi.stubEnv("DATABASE_URL", "");
    const [a, b] = await Promise.all([startPostgres(), startPostgres()]);
    try {
      expect(a.database).not.toBe(b.database);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("creates the database on the server named by DATABASE_URL", async () => {
    // Borrow the server the harness found on its own, then hand it over through DATABASE_URL.
    vi.stubEnv("DATABASE_URL", "");
    const probe = await startPostgres();
    const serverUrl = new URL(probe.url);
    await probe.stop();
    serverUrl.pathname = "/postgres";

    vi.stubEnv("DATABASE_URL", serverUrl.toString());
    server = await startPostgres();
    expect(server.owned).toBe(false);
    expect(new URL(server.url).host).toBe(serverUrl.host);
    expect(await query(server.url, "SELECT current_database() AS db")).toEqual([{ db: server.database }]);
  });

  it("isolated: true uses a container, or says what is missing", async () => {
    const runtime = await tryContainerRuntime();
    if (runtime.ok) {
      server = await startPostgres({ isolated: true });
      expect(server).toMatchObject({ owned: true, kind: "container" });
      expect(await query(server.url, "SELECT current_database() AS db")).toEqual([{ db: server.database }]);
    } else {
      await expect(startPostgres({ isolated: true })).rejects.toMatchObject({
        code: "NO_BACKEND",
        message: expect.stringMatching(/DATABASE_URL[\s\S]*127\.0\.0\.1:5432[\s\S]*postgres:16-alpine/),
      });
    }
  });

  it("ignores a DATABASE_URL that is not PostgreSQL", async () => {
    vi.stubEnv("DATABASE_URL", "sqlite::memory:");
    server = await startPostgres();
    expect(server.url).toMatch(/^postgres:\/\//);
  });
});
