import { connect } from "node:net";
import { createLogger } from "@market-scraper/runtime";
import { afterEach, describe, expect, it } from "vitest";
import type { z } from "zod";
import { API_ROUTES, ErrorResponse, type StorageQueryRunner } from "../src/index.js";
import { type MemoryGateway, startMemoryGateway } from "./helpers.js";

// Hostile HTTP input (issue 18 item 5): every answer is a 4xx in the `{error:{code,message}}` shape,
// nothing reaches storage, and nothing is logged as an error.

let running: MemoryGateway | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
});

/** Storage as PostgreSQL answers a NUL byte: an internal error (the gateway's 502). */
const postgresLike =
  (calls: unknown[]): StorageQueryRunner =>
  async (name, request) => {
    calls.push([name, request]);
    throw new Error('invalid byte sequence for encoding "UTF8": 0x00');
  };

function logLines(): {
  lines: { level: string; msg?: string; err?: unknown }[];
  logger: ReturnType<typeof createLogger>;
} {
  const lines: { level: string; msg?: string; err?: unknown }[] = [];
  const logger = createLogger({
    service: "gateway-test",
    level: "debug",
    destination: { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) },
  });
  return { lines, logger };
}

const keysOf = (schema: z.ZodType): string[] => Object.keys((schema as z.ZodObject).shape);

describe("control characters in parameters", () => {
  it("answer 400 on every /v1 endpoint, before storage, without an error log", async () => {
    const calls: unknown[] = [];
    const { lines, logger } = logLines();
    running = await startMemoryGateway(postgresLike(calls), { logger });
    const urls: string[] = [];
    for (const route of API_ROUTES) {
      const path = route.path.replace("{symbol}", "BTC-USD");
      for (const name of keysOf(route.query)) urls.push(`${path}?${name}=a%00b`);
      if (route.params !== undefined) urls.push(route.path.replace("{symbol}", "BTC%00USD"));
    }
    for (const name of ["symbols", "sources", "event_types", "api_key"]) {
      urls.push(`/v1/stream/sse?${name}=a%00b`);
    }
    urls.push("/v1/stream?api_key=abc%00def", "/v1/stream/sse?symbols=BTC-USD%01");
    expect(urls.length).toBeGreaterThan(30);
    for (const url of urls) {
      const response = await fetch(`${running.url}${url}`);
      const body = ErrorResponse.parse(await response.json());
      expect({ url, status: response.status, code: body.error.code }).toEqual({
        url,
        status: 400,
        code: "BAD_REQUEST",
      });
    }
    expect(calls).toEqual([]);
    expect(lines.filter((l) => l.level === "error" || l.level === "fatal" || l.err !== undefined)).toEqual(
      [],
    );
  });
});

/** Sends `raw` on a fresh TCP connection and reads until the server closes it. */
function rawExchange(url: string, raw: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), body });
    });
    socket.end(raw);
  });
}

describe("answers before routing", () => {
  it.each([
    [
      "headers over the size limit",
      `GET /v1/markets HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`,
      431,
      "HEADERS_TOO_LARGE",
    ],
    [
      "a URL over the header size limit",
      `GET /v1/markets?source=${"a".repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`,
      431,
      "HEADERS_TOO_LARGE",
    ],
    [
      "a path parameter over its length limit",
      `GET /v1/markets/${"A".repeat(300)}/trades HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
      414,
      "URI_TOO_LONG",
    ],
    [
      "a bad URL encoding",
      `GET /v1/markets/%E0%A4%A/trades HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`,
      400,
      "BAD_REQUEST",
    ],
    ["malformed HTTP", "GET /v1/markets HTTP/1.1\r\nbad header line\r\n\r\n", 400, "BAD_REQUEST"],
  ])("%s is answered in the error format", async (_what, raw, status, code) => {
    running = await startMemoryGateway(postgresLike([]));
    const answer = await rawExchange(running.url, raw);
    expect(answer.status).toBe(status);
    expect(ErrorResponse.parse(JSON.parse(answer.body)).error.code).toBe(code);
  });
});
