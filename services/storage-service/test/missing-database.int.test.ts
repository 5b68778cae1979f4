import { startPostgres } from "@market-scraper/testkit";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresStore } from "../src/store/postgres-store.js";
import { StoreError } from "../src/store/store-error.js";

// A new user's first start (the README's distributed steps): DATABASE_URL names a database that does not
// exist yet. Storage creates it when the user may, else its error is the one command that does.

const db = await startPostgres();
const suffix = `${process.pid}_${Date.now()}`;
const missing = `ms_test_missing_${suffix}`;
const role = `ms_test_nocreatedb_${suffix}`;
const admin = new pg.Client({ connectionString: db.url });
await admin.connect();

function urlOf(database: string, user?: string): string {
  const url = new URL(db.url);
  url.pathname = `/${database}`;
  if (user !== undefined) {
    url.username = user;
    url.password = "";
  }
  return url.toString();
}

afterAll(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${missing} WITH (FORCE)`);
  await admin.query(`DROP ROLE IF EXISTS ${role}`);
  await admin.end();
  await db.stop();
});

describe("PostgresStore on a database that does not exist", () => {
  it("creates it when the user may, then migrates", async () => {
    const store = new PostgresStore({ url: urlOf(missing), poolSize: 1 });
    try {
      await store.migrate();
      const { rows } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [missing]);
      expect(rows).toHaveLength(1);
      expect((await store.stats()).total_events).toBe(0);
      await store.migrate(); // a second start finds it
    } finally {
      await store.close();
    }
  });

  it("names the one command that creates it when the user may not", async () => {
    await admin.query(`CREATE ROLE ${role} LOGIN NOCREATEDB`);
    const host = new URL(db.url);
    const store = new PostgresStore({ url: urlOf(`${missing}_x`, role), poolSize: 1 });
    try {
      const err = await store.migrate().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe("UNAVAILABLE"); // storage keeps retrying at start
      expect((err as StoreError).message).toContain(
        `create it with: createdb -h ${host.hostname} -p ${host.port || "5432"} -U ${role} ${missing}_x`,
      );
    } finally {
      await store.close();
    }
  });
});
