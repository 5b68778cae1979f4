import { connect } from "node:net";
import { createLogger } from "@market-scraper/runtime";
import { waitFor } from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import type { z } from "zod";
import { API_ROUTES, ErrorResponse, type StorageQueryRunner } from "../src/index.js";
import { type MemoryGateway, TestSocket, TestSse, metricValue, startMemoryGateway } from "./helpers.js";

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

const KEY = "the-right-key-0123";

describe("failed authentication", () => {
  it("is throttled per address: 60 wrong keys get 429s with Retry-After, then even the valid key", async () => {
    running = await startMemoryGateway(async () => ({ data: [] }), {
      config: { GATEWAY_API_KEYS: [{ key: KEY, rateLimit: null }] },
    });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 60; i++) {
      const response = await fetch(`${running.url}/v1/markets`, {
        headers: { "x-api-key": `wrong-key-${i}` },
      });
      statuses.push(response.status);
      if (response.status === 429) {
        retryAfter = response.headers.get("retry-after");
        expect(ErrorResponse.parse(await response.json()).error.code).toBe("RATE_LIMITED");
      } else await response.body?.cancel();
    }
    // Defaults: 20 failures per minute and address.
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(403));
    expect(statuses.slice(20)).toEqual(Array(40).fill(429));
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const hit = await fetch(`${running.url}/v1/markets`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(hit.status).toBe(429);
    await hit.body?.cancel();
    const sample = "market_scraper_gateway_auth_failures_total";
    expect(await metricValue(running.url, sample, 'outcome="throttled"')).toBe(41);
    expect(await metricValue(running.url, sample, 'outcome="refused"')).toBe(20);
  });
});

describe("stream connections", () => {
  it("2,000 WebSocket upgrades from one address are not refused by the request limit (defaults)", async () => {
    running = await startMemoryGateway(async () => ({ data: [] }));
    const url = `${running.url.replace("http", "ws")}/v1/stream`;
    const sockets: TestSocket[] = [];
    try {
      for (let batch = 0; batch < 20; batch++) {
        sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => TestSocket.open(url)))));
      }
      expect(running.gateway.streamClients).toBe(2000);
      // The request limit (600 per minute by default) is untouched by them.
      const response = await fetch(`${running.url}/v1/markets`);
      expect(response.headers.get("ratelimit-remaining")).toBe("599");
    } finally {
      for (const socket of sockets) socket.close();
    }
  }, 120_000);

  it("have a concurrent limit per address: the excess gets a 429 before the upgrade", async () => {
    running = await startMemoryGateway(async () => ({ data: [] }), {
      config: { GATEWAY_STREAM_MAX_PER_ADDRESS: 3 },
    });
    const ws = `${running.url.replace("http", "ws")}/v1/stream`;
    const open = [
      await TestSocket.open(ws),
      await TestSocket.open(ws),
      await TestSse.open(`${running.url}/v1/stream/sse`),
    ];
    try {
      await expect(TestSocket.open(ws)).rejects.toThrow("upgrade refused: 429");
      const sse = await fetch(`${running.url}/v1/stream/sse`);
      expect(sse.status).toBe(429);
      expect(ErrorResponse.parse(await sse.json()).error.message).toContain(
        "3 concurrent streams per client address",
      );
      expect(
        await metricValue(
          running.url,
          "market_scraper_gateway_stream_refused_total",
          'reason="max_per_address"',
        ),
      ).toBe(2);
      // One closes: there is room again.
      open[0]!.close();
      await waitFor(() => running!.gateway.streamClients === 2, { timeoutMs: 10_000, message: "the close" });
      open[0] = await TestSocket.open(ws);
    } finally {
      for (const client of open) client.close();
    }
  });
});
