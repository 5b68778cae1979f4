import { describe, expect, it } from "vitest";
import { StoreError, postgresStoreError, sqliteStoreError } from "./store-error.js";

const withCode = (code: string, message = `error ${code}`) => Object.assign(new Error(message), { code });

describe("store error classification: an outage (the database) or a refused row", () => {
  it.each([
    ["57P01", "terminating connection due to administrator command"],
    ["55000", 'database "x" is not currently accepting connections'],
    ["25006", "cannot execute INSERT in a read-only transaction"],
    ["57014", "canceling statement due to statement timeout"],
    ["55P03", "could not obtain lock"],
    ["53100", "could not extend file: No space left on device"],
    ["53300", "too many connections"],
    ["08006", "connection failure"],
    ["40001", "could not serialize access"],
    ["40P01", "deadlock detected"],
    ["3D000", 'database "x" does not exist'],
    ["ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"],
    ["ECONNRESET", "read ECONNRESET"],
    ["ETIMEDOUT", "connect ETIMEDOUT"],
  ])("PostgreSQL %s is an outage", (code, message) => {
    const err = postgresStoreError(withCode(code, message));
    expect(err).toMatchObject({ code: "UNAVAILABLE", message: `database unavailable: ${message}` });
  });

  it("any node system error (it has a syscall) is an outage", () => {
    const err = Object.assign(new Error("connect EADDRNOTAVAIL"), {
      code: "EADDRNOTAVAIL",
      syscall: "connect",
    });
    expect(postgresStoreError(err).code).toBe("UNAVAILABLE");
  });

  it.each(["Connection terminated unexpectedly", "timeout exceeded when trying to connect"])(
    "pg's '%s' (no SQLSTATE) is an outage",
    (message) => expect(postgresStoreError(new Error(message)).code).toBe("UNAVAILABLE"),
  );

  it.each([
    ["22P02", "invalid input syntax for type json"],
    ["22021", "invalid byte sequence for encoding UTF8: 0x00"],
    ["23502", "null value in column violates not-null constraint"],
    ["22007", "invalid input syntax for type timestamp"],
  ])("PostgreSQL %s refuses the row", (code, message) => {
    expect(postgresStoreError(withCode(code, message))).toMatchObject({ code: "REJECTED", message });
  });

  it.each([
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_READONLY",
    "SQLITE_READONLY_DBMOVED",
    "SQLITE_FULL",
    "SQLITE_IOERR_WRITE",
    "SQLITE_CANTOPEN",
  ])("SQLite %s is an outage", (code) => {
    expect(sqliteStoreError(withCode(code)).code).toBe("UNAVAILABLE");
  });

  it.each(["SQLITE_CONSTRAINT_NOTNULL", "SQLITE_TOOBIG", "SQLITE_MISMATCH", "SQLITE_ERROR"])(
    "SQLite %s refuses the row",
    (code) => expect(sqliteStoreError(withCode(code)).code).toBe("REJECTED"),
  );

  it("keeps a StoreError as it is", () => {
    const err = new StoreError("BAD_CURSOR", "bad cursor");
    expect(postgresStoreError(err)).toBe(err);
    expect(sqliteStoreError(err)).toBe(err);
  });
});
