import pg from "pg";
import { StoreError, errorMessage } from "./store-error.js";

/** SQLSTATE invalid_catalog_name: the database of the connection string does not exist. */
const MISSING_DATABASE = "3D000";
/** SQLSTATE duplicate_database: another replica created it first. */
const DUPLICATE_DATABASE = "42P04";

/** A store error caused by connecting to a database that does not exist. */
export function isMissingDatabase(err: unknown): boolean {
  const cause = err instanceof StoreError ? err.cause : err;
  return (cause as { code?: unknown } | undefined)?.code === MISSING_DATABASE;
}

/**
 * Creates the database `url` names, connecting to the server's `postgres` database with the same
 * credentials (a new user's first start, e.g. the README's distributed steps). When the user may not,
 * an `UNAVAILABLE` error (the caller keeps retrying) whose message is the one command that creates it.
 */
export async function createMissingDatabase(url: string): Promise<string> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = name === "postgres" ? "/template1" : "/postgres";
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } catch (err) {
    if ((err as { code?: unknown }).code === DUPLICATE_DATABASE) return name;
    const user = decodeURIComponent(target.username) || "<a user allowed to create databases>";
    const command = `createdb -h ${target.hostname || "localhost"} -p ${target.port || "5432"} -U ${user} ${name}`;
    throw new StoreError(
      "UNAVAILABLE",
      `database "${name}" does not exist and cannot be created here (${errorMessage(err)}); create it with: ${command}`,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  return name;
}
