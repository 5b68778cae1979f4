import { Agent, request, type IncomingHttpHeaders } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { HealthState } from "./health-state.js";
import { startHttpServer, type HttpFallback, type RunningHttpServer } from "./http-server.js";
import { createLogger } from "./logger.js";
import { createMetricsRegistry } from "./metrics.js";
import { RuntimeError } from "./runtime-error.js";

const logger = createLogger({ service: "test", level: "silent" });
const running: RunningHttpServer[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.close()));
});

async function start(
  options: { health?: HealthState; fallback?: HttpFallback; closeTimeoutMs?: number } = {},
) {
  const registry = createMetricsRegistry({ service: "test-service", collectDefault: false });
  const server = await startHttpServer({
    port: 0,
    host: "127.0.0.1",
    logger,
    registry,
    health: options.health ?? new HealthState(),
    ...(options.fallback === undefined ? {} : { fallback: options.fallback }),
    ...(options.closeTimeoutMs === undefined ? {} : { closeTimeoutMs: options.closeTimeoutMs }),
  });
  running.push(server);
  return server;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function call(url: string, options: { method?: string; agent?: Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "GET", agent: options.agent ?? false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

describe("startHttpServer", () => {
  it("binds a free port for port 0 and reports a reachable url", async () => {
    const server = await start();
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it("answers /healthz while live, 503 once not", async () => {
    const health = new HealthState();
    const server = await start({ health });
    const ok = await call(`${server.url}/healthz`);
    expect(ok.status).toBe(200);
    expect(ok.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(JSON.parse(ok.body)).toEqual({ status: "ok" });
    health.setLive(false);
    const down = await call(`${server.url}/healthz`);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({ status: "not_live" });
  });

  it("answers /readyz 503 with the checks until ready, and again once draining", async () => {
    const health = new HealthState(["nats"]);
    const server = await start({ health });
    const pending = await call(`${server.url}/readyz`);
    expect(pending.status).toBe(503);
    expect(JSON.parse(pending.body)).toEqual({
      status: "not_ready",
      draining: false,
      checks: { nats: { ok: false, detail: "pending" } },
    });

    health.setCheck("nats", true);
    const ready = await call(`${server.url}/readyz?verbose=1`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({ status: "ok", draining: false, checks: { nats: { ok: true } } });

    health.startDraining();
    const draining = await call(`${server.url}/readyz`);
    expect(draining.status).toBe(503);
    expect(JSON.parse(draining.body)).toMatchObject({ status: "not_ready", draining: true });
  });

  it("serves Prometheus text on /metrics", async () => {
    const server = await start();
    const answer = await call(`${server.url}/metrics`);
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
  });

  it("answers HEAD without a body and refuses other methods with 405", async () => {
    const server = await start();
    const head = await call(`${server.url}/healthz`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(Number(head.headers["content-length"])).toBeGreaterThan(0);

    const post = await call(`${server.url}/metrics`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
    expect(JSON.parse(post.body)).toMatchObject({ error: { code: "METHOD_NOT_ALLOWED" } });
  });

  it("answers unknown paths with a JSON 404", async () => {
    const server = await start();
    const answer = await call(`${server.url}/v1/markets`);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: "NOT_FOUND", message: "no route for GET /v1/markets" },
    });
  });

  it("hands other paths to the fallback, and answers 500 when it fails", async () => {
    const server = await start({
      fallback: async (req, res) => {
        await Promise.resolve();
        if (req.url === "/boom") throw new Error("handler bug");
        res.writeHead(200, { "content-type": "text/plain" }).end(`api ${req.method} ${req.url}`);
      },
    });
    expect((await call(`${server.url}/v1/markets`, { method: "POST" })).body).toBe("api POST /v1/markets");
    const failed = await call(`${server.url}/boom`);
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body)).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
    // Built-ins still win over the fallback.
    expect((await call(`${server.url}/healthz`)).status).toBe(200);
  });

  it("closes idle keep-alive connections on close()", async () => {
    const server = await start();
    const agent = new Agent({ keepAlive: true });
    const answer = await call(`${server.url}/healthz`, { agent });
    expect(answer.headers.connection).toBe("keep-alive");
    const socketClosed = new Promise<void>((resolve) => {
      const sockets = Object.values(agent.freeSockets).flat();
      expect(sockets).toHaveLength(1);
      sockets[0]?.once("close", () => resolve());
    });
    await server.close();
    await socketClosed;
    agent.destroy();
  });

  it("lets an in-flight request finish, then closes its keep-alive connection", async () => {
    let release = (): void => undefined;
    let arrived = (): void => undefined;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await start({
      fallback: (_req, res) => {
        arrived();
        release = () => res.end("late answer");
      },
    });
    const agent = new Agent({ keepAlive: true });
    const pending = call(`${server.url}/slow`, { agent });
    await requestArrived;
    const closed = server.close();
    release();
    const answer = await pending;
    expect(answer.body).toBe("late answer");
    expect(answer.headers.connection).toBe("close");
    await closed;
    agent.destroy();
  });

  it("cuts a request that outlives the close timeout", async () => {
    let arrived = (): void => undefined;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await start({ closeTimeoutMs: 10, fallback: () => arrived() });
    const pending = call(`${server.url}/never`);
    await requestArrived;
    await server.close();
    await expect(pending).rejects.toThrow(/socket hang up|ECONNRESET/);
  });

  it("fails with HTTP_LISTEN_FAILED when the port is taken", async () => {
    const first = await start();
    const error: unknown = await startHttpServer({
      port: first.port,
      host: "127.0.0.1",
      logger,
      registry: createMetricsRegistry({ service: "s", collectDefault: false }),
      health: new HealthState(),
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code: "HTTP_LISTEN_FAILED", cause: { code: "EADDRINUSE" } });
  });
});
