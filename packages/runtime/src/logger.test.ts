import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";
import { RuntimeError } from "./runtime-error.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = {
    write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
  };
  return { lines, destination };
}

describe("createLogger", () => {
  it("writes JSON lines with service, instance, ISO time and a level name", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: "storage-service", level: "info", destination });
    logger.child({ component: "store" }).info({ rows: 3 }, "flushed");
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({
      service: "storage-service",
      instance: `${hostname()}-${process.pid}`,
      component: "store",
      level: "info",
      rows: 3,
      msg: "flushed",
    });
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
  });

  it("honours the level", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: "s", level: "warn", destination });
    logger.info("hidden");
    logger.warn("shown");
    expect(lines.map((line) => line.msg)).toEqual(["shown"]);
  });

  it("serializes errors under err with type, message (causes appended) and stack", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: "s", destination, instance: "pod-1" });
    logger.error({ err: new TypeError("boom", { cause: new Error("root") }) }, "failed");
    expect(lines[0]).toMatchObject({ instance: "pod-1", err: { type: "TypeError", message: "boom: root" } });
    const err = lines[0]!.err as { stack: string };
    expect(err.stack).toContain("TypeError: boom");
  });

  it("never writes the password of a URL: message, fields, error message and stack", () => {
    const raw: string[] = [];
    const logger = createLogger({
      service: "s",
      destination: { write: (line: string) => void raw.push(line) },
    });
    const url = "postgres://u:S3cretPW@db:5432/market";
    logger.info(
      { url, servers: ["nats://v:S3cretPW@h1:4222", "w:S3cretPW@h2:4222"] },
      `connecting to ${url}`,
    );
    logger.error({ err: new Error(`cannot connect to ${url}?password=S3cretPW`) }, "failed");
    expect(raw).toHaveLength(2);
    for (const line of raw) expect(line).not.toContain("S3cretPW");
    const [first, second] = raw.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({
      url: "postgres://u:***@db:5432/market",
      servers: ["nats://v:***@h1:4222", "w:***@h2:4222"],
      msg: "connecting to postgres://u:***@db:5432/market",
    });
    expect(second).toMatchObject({
      err: { message: "cannot connect to postgres://u:***@db:5432/market?password=***" },
    });
  });

  it("writes an error's code, stack and cause chain as data, with secrets in causes redacted", () => {
    const raw: string[] = [];
    const logger = createLogger({
      service: "s",
      destination: { write: (line: string) => void raw.push(line) },
    });
    const refused = Object.assign(new Error("connect ECONNREFUSED nats://tok3nS3cret@10.0.0.9:4222"), {
      code: "ECONNREFUSED",
    });
    const err = new RuntimeError("NATS_CONNECT_FAILED", "cannot connect to NATS", { cause: refused });
    logger.child({ component: "nats" }).error({ err }, "start failed");
    logger.warn({ err: new Error("flush failed", { cause: { url: "postgres://u:pw0rdS3cret@db/x" } }) }, "w");
    for (const line of raw) {
      expect(line).not.toContain("tok3nS3cret");
      expect(line).not.toContain("pw0rdS3cret");
    }
    const [first, second] = raw.map((line) => JSON.parse(line) as { err: Record<string, unknown> });
    expect(first!.err).toMatchObject({
      type: "RuntimeError",
      code: "NATS_CONNECT_FAILED",
      message: "cannot connect to NATS: connect ECONNREFUSED nats://***@10.0.0.9:4222",
      cause: {
        name: "Error",
        code: "ECONNREFUSED",
        message: "connect ECONNREFUSED nats://***@10.0.0.9:4222",
      },
    });
    const stack = first!.err.stack as string;
    expect(stack).toContain("RuntimeError: cannot connect to NATS\n    at ");
    expect(stack).toContain("caused by: Error: connect ECONNREFUSED nats://***@10.0.0.9:4222");
    expect(second!.err).toMatchObject({ message: "flush failed", cause: { url: "postgres://u:***@db/x" } });
  });
});
