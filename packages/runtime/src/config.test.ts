import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError } from "./config-error.js";
import {
  baseServiceEnv,
  booleanFlag,
  commaList,
  durationMs,
  logLevel,
  natsEnv,
  parseDurationMs,
  parseEnv,
  port,
  positiveInt,
} from "./config.js";

const here = dirname(fileURLToPath(import.meta.url));
const workdir = mkdtempSync(join(tmpdir(), "runtime-config-"));
const credsFile = join(workdir, "user.creds");
writeFileSync(credsFile, "-----BEGIN NATS USER JWT-----\n");
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("parseEnv", () => {
  const schema = z.object({
    HTTP_PORT: port(9101),
    SYMBOLS: commaList(["BTC"]),
    BATCH: positiveInt(100),
    FLUSH_INTERVAL: durationMs("1s"),
    DEBUG: booleanFlag(false),
    LOG_LEVEL: logLevel,
  });

  it("applies defaults and ignores unknown variables", () => {
    expect(parseEnv(schema, { PATH: "/usr/bin", HOME: "/root" })).toEqual({
      HTTP_PORT: 9101,
      SYMBOLS: ["BTC"],
      BATCH: 100,
      FLUSH_INTERVAL: 1000,
      DEBUG: false,
      LOG_LEVEL: "info",
    });
  });

  it("parses every helper", () => {
    expect(
      parseEnv(schema, {
        HTTP_PORT: "8080",
        SYMBOLS: " ETH, ,SOL ,, ",
        BATCH: "5",
        FLUSH_INTERVAL: "250ms",
        DEBUG: "Yes",
        LOG_LEVEL: "DEBUG",
      }),
    ).toEqual({
      HTTP_PORT: 8080,
      SYMBOLS: ["ETH", "SOL"],
      BATCH: 5,
      FLUSH_INTERVAL: 250,
      DEBUG: true,
      LOG_LEVEL: "debug",
    });
  });

  it("treats empty values as unset", () => {
    expect(parseEnv(schema, { HTTP_PORT: "", SYMBOLS: "  " })).toMatchObject({
      HTTP_PORT: 9101,
      SYMBOLS: ["BTC"],
    });
  });

  it("reports one issue per bad variable with what was received", () => {
    const error = configError(() =>
      parseEnv(schema, {
        HTTP_PORT: "abc",
        BATCH: "0",
        FLUSH_INTERVAL: "5 parsecs",
        DEBUG: "maybe",
        LOG_LEVEL: "loud",
      }),
    );
    expect(error.code).toBe("INVALID_CONFIG");
    expect(error.cause).toBeInstanceOf(z.ZodError);
    expect(error.issues).toEqual([
      { variable: "HTTP_PORT", message: "expected an integer port 1-65535", received: "abc" },
      { variable: "BATCH", message: "expected a positive integer", received: "0" },
      {
        variable: "FLUSH_INTERVAL",
        message: "expected a duration like 250ms, 5s, 2m, 1h, 7d or integer milliseconds",
        received: "5 parsecs",
      },
      { variable: "DEBUG", message: "expected true/false, 1/0 or yes/no", received: "maybe" },
      {
        variable: "LOG_LEVEL",
        message: "expected one of fatal, error, warn, info, debug, trace, silent",
        received: "loud",
      },
    ]);
    expect(error.message).toContain('HTTP_PORT: expected an integer port 1-65535, got "abc"');
  });

  it("says a required variable without default is required", () => {
    const error = configError(() => parseEnv(z.object({ DATABASE_URL: z.string() }), {}));
    expect(error.issues).toEqual([{ variable: "DATABASE_URL", message: "required", received: undefined }]);
  });

  it.each([
    ["0", false],
    ["65535", true],
    ["65536", false],
    ["80.5", false],
    ["-1", false],
  ])("port %s valid: %s", (raw, valid) => {
    const result = z.object({ P: port(1) }).safeParse({ P: raw });
    expect(result.success).toBe(valid);
  });
});

describe("parseDurationMs", () => {
  it.each([
    ["250ms", 250],
    ["5s", 5_000],
    ["1.5s", 1_500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["7d", 604_800_000],
    ["1500", 1_500],
    ["0", 0],
  ])("%s → %d", (raw, ms) => expect(parseDurationMs(raw)).toBe(ms));

  it.each(["", "s", "ms", "5 s", "-5s", "5w", "1e3"])("rejects %j", (raw) =>
    expect(parseDurationMs(raw)).toBeUndefined(),
  );
});

describe("natsEnv", () => {
  it("defaults to the local server and no auth", () => {
    expect(parseEnv(natsEnv, {})).toEqual({
      NATS_URL: ["nats://127.0.0.1:4222"],
      NATS_STREAM_REPLICAS: 1,
      NATS_STREAMS: ["MARKET", "PROCESSED", "SYSTEM"],
    });
  });

  it("splits NATS_URL into servers", () => {
    expect(parseEnv(natsEnv, { NATS_URL: "nats://a:4222, tls://b:4222,c:4222,[::1]:4222" }).NATS_URL).toEqual(
      ["nats://a:4222", "tls://b:4222", "c:4222", "[::1]:4222"],
    );
  });

  it("rejects a malformed NATS_URL", () => {
    const error = configError(() => parseEnv(natsEnv, { NATS_URL: "http://a:80,nats://ok:4222" }));
    expect(error.issues.map((issue) => issue.variable)).toEqual(["NATS_URL"]);
  });

  it("takes user+password, token or creds", () => {
    expect(parseEnv(natsEnv, { NATS_USER: "u", NATS_PASSWORD: "p" })).toMatchObject({
      NATS_USER: "u",
      NATS_PASSWORD: "p",
    });
    expect(parseEnv(natsEnv, { NATS_TOKEN: "t" })).toMatchObject({ NATS_TOKEN: "t" });
    expect(parseEnv(natsEnv, { NATS_CREDS: credsFile })).toMatchObject({ NATS_CREDS: credsFile });
  });

  it("wants both NATS_USER and NATS_PASSWORD or neither", () => {
    const error = configError(() => parseEnv(natsEnv, { NATS_USER: "u" }));
    expect(error.issues).toEqual([
      { variable: "NATS_PASSWORD", message: "required when NATS_USER is set", received: undefined },
    ]);
  });

  it("refuses two auth methods and never prints secrets", () => {
    const error = configError(() => parseEnv(natsEnv, { NATS_TOKEN: "s3cret", NATS_CREDS: credsFile }));
    expect(error.issues.map((issue) => issue.variable)).toEqual(["NATS_TOKEN", "NATS_CREDS"]);
    expect(error.issues[0]?.message).toMatch(/at most one NATS auth method.*NATS_CREDS is set too/);
    expect(error.issues[0]?.received).toBe("[redacted]");
    expect(error.message).not.toContain("s3cret");
  });

  it("wants NATS_CREDS to be a readable file", () => {
    const missing = configError(() => parseEnv(natsEnv, { NATS_CREDS: join(workdir, "nope.creds") }));
    expect(missing.issues[0]).toMatchObject({
      variable: "NATS_CREDS",
      message: expect.stringContaining("does not exist"),
    });
    const directory = configError(() => parseEnv(natsEnv, { NATS_CREDS: workdir }));
    expect(directory.issues[0]?.message).toContain("not a file");
    if (process.getuid?.() !== 0) {
      const locked = join(workdir, "locked.creds");
      writeFileSync(locked, "x");
      chmodSync(locked, 0o000);
      expect(configError(() => parseEnv(natsEnv, { NATS_CREDS: locked })).issues[0]?.message).toContain(
        "not readable",
      );
    }
  });
});

describe("baseServiceEnv", () => {
  it("combines LOG_LEVEL, HTTP_PORT and NATS, and extends", () => {
    const schema = baseServiceEnv(9102).extend({ PROCESSORS: commaList(["validate", "dedup", "ohlcv"]) });
    expect(parseEnv(schema, {})).toEqual({
      NATS_URL: ["nats://127.0.0.1:4222"],
      NATS_STREAM_REPLICAS: 1,
      NATS_STREAMS: ["MARKET", "PROCESSED", "SYSTEM"],
      LOG_LEVEL: "info",
      HTTP_PORT: 9102,
      PROCESSORS: ["validate", "dedup", "ohlcv"],
    });
  });

  it("keeps the NATS auth rule after extend, reported along with field errors", () => {
    const schema = baseServiceEnv(9102).extend({ BATCH: positiveInt(1) });
    const error = configError(() =>
      parseEnv(schema, { HTTP_PORT: "x", NATS_TOKEN: "t", NATS_USER: "u", NATS_PASSWORD: "p" }),
    );
    expect(error.issues.map((issue) => issue.variable)).toEqual(["NATS_USER", "NATS_TOKEN", "HTTP_PORT"]);
  });
});

describe("loadConfig", () => {
  it("prints one line per bad variable and exits 78", () => {
    const script = join(here, "..", "test", "fixtures", "load-bad-config.ts");
    const result = spawnSync(process.execPath, ["--import", "tsx", script], {
      env: { ...process.env, HTTP_PORT: "abc", LOG_LEVEL: "chatty", NATS_URL: "nats://127.0.0.1:4222" },
      encoding: "utf8",
    });
    expect(result.status).toBe(78);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toEqual([
      'config error: LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "chatty"',
      'config error: HTTP_PORT: expected an integer port 1-65535, got "abc"',
    ]);
  });
});

describe("credentials in a bad URL", () => {
  it("never echo the password in the exit-78 line (NATS_URL)", () => {
    const script = join(here, "..", "test", "fixtures", "load-bad-config.ts");
    const result = spawnSync(process.execPath, ["--import", "tsx", script], {
      env: { ...process.env, NATS_URL: "mysql://u:S3cretPW@h/db, nats://v:0therPW@h2:4222" },
      encoding: "utf8",
    });
    expect(result.status).toBe(78);
    expect(result.stderr).not.toContain("S3cretPW");
    expect(result.stderr).not.toContain("0therPW");
    expect(result.stderr.trimEnd()).toBe(
      'config error: NATS_URL: expected comma-separated NATS server URLs like nats://127.0.0.1:4222, got "mysql://u:***@h/db, nats://v:***@h2:4222"',
    );
  }, 30_000); // a child process through tsx: seconds on a busy machine

  it("are redacted in every issue and in the error message (DATABASE_URL, REDIS_URL)", () => {
    const url = z.string().refine((raw) => raw.startsWith("postgres://"), "expected postgres://…");
    const schema = z.object({
      DATABASE_URL: url,
      REDIS_URL: z.string().refine((raw) => raw.startsWith("redis://"), "expected redis://…"),
    });
    const error = configError(() =>
      parseEnv(schema, {
        DATABASE_URL: "mysql://u:S3cretPW@h/db?password=S3cretPW",
        REDIS_URL: "http://:S3cretPW@cache:6379",
      }),
    );
    expect(error.issues.map((issue) => issue.received)).toEqual([
      "mysql://u:***@h/db?password=***",
      "http://:***@cache:6379",
    ]);
    expect(error.message).not.toContain("S3cretPW");
  });
});

describe("NATS_STREAM_REPLICAS", () => {
  it("takes 1 to 5 and names the variable otherwise", () => {
    expect(parseEnv(natsEnv, { NATS_STREAM_REPLICAS: "3" }).NATS_STREAM_REPLICAS).toBe(3);
    for (const bad of ["0", "6", "two", "1.5"]) {
      const error = configError(() => parseEnv(natsEnv, { NATS_STREAM_REPLICAS: bad }));
      expect(error.issues[0]).toMatchObject({ variable: "NATS_STREAM_REPLICAS", received: bad });
    }
  });
});

describe("NATS_INBOX_PREFIX", () => {
  it("takes a subject prefix without wildcards and names the variable otherwise", () => {
    expect(parseEnv(natsEnv, { NATS_INBOX_PREFIX: "_INBOX_storage" }).NATS_INBOX_PREFIX).toBe(
      "_INBOX_storage",
    );
    expect(parseEnv(natsEnv, { NATS_INBOX_PREFIX: "app.storage-1" }).NATS_INBOX_PREFIX).toBe("app.storage-1");
    for (const bad of ["_INBOX.>", "a.*", "a b", "a..b", "."]) {
      const error = configError(() => parseEnv(natsEnv, { NATS_INBOX_PREFIX: bad }));
      expect(error.issues[0]).toMatchObject({ variable: "NATS_INBOX_PREFIX", received: bad });
    }
  });
});

describe("NATS_STREAMS", () => {
  it("takes the streams a service owns, or none", () => {
    expect(parseEnv(natsEnv, { NATS_STREAMS: "MARKET, SYSTEM" }).NATS_STREAMS).toEqual(["MARKET", "SYSTEM"]);
    expect(parseEnv(natsEnv, { NATS_STREAMS: "none" }).NATS_STREAMS).toEqual([]);
    for (const bad of ["market", "MARKET,KV", ","]) {
      const error = configError(() => parseEnv(natsEnv, { NATS_STREAMS: bad }));
      expect(error.issues[0]).toMatchObject({ variable: "NATS_STREAMS", received: bad });
    }
  });
});
