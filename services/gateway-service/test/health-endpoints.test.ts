import {
  HEALTH_PATHS,
  HealthState,
  type RunningHttpServer,
  createMetricsRegistry,
  startHttpServer,
} from "@market-scraper/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { type MemoryGateway, logger, startMemoryGateway } from "./helpers.js";

// The gateway serves `/healthz` `/readyz` `/metrics` on its fastify server with the runtime's one
// implementation: for the same state it answers exactly what every other service's port answers.

let gateway: MemoryGateway | undefined;
let plain: RunningHttpServer | undefined;

afterEach(async () => {
  await gateway?.stop();
  await plain?.close();
  gateway = plain = undefined;
});

interface Seen {
  status: number;
  contentType: string | null;
  cacheControl: string | null;
  allow: string | null;
  body: string;
}

async function see(url: string, method: string): Promise<Seen> {
  const res = await fetch(url, { method });
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    cacheControl: res.headers.get("cache-control"),
    allow: res.headers.get("allow"),
    body: await res.text(),
  };
}

describe("the gateway's health endpoints", () => {
  it("answer as the runtime's server does for the same health state, methods and checks", async () => {
    const health = new HealthState(["storage"]);
    const registry = createMetricsRegistry({ service: "gateway-service", collectDefault: false });
    gateway = await startMemoryGateway(async () => ({ data: [] }), { health, registry });
    // The gateway's own checks, as it reports them once started on a connected bus.
    plain = await startHttpServer({
      port: 0,
      host: "127.0.0.1",
      logger,
      registry,
      health,
      checks: () => ({ bus: { ok: true }, gateway: { ok: true } }),
    });

    const compare = async (state: string) => {
      for (const path of HEALTH_PATHS) {
        for (const method of ["GET", "HEAD", "POST"]) {
          const [a, b] = await Promise.all([
            see(`${gateway!.url}${path}`, method),
            see(`${plain!.url}${path}`, method),
          ]);
          // Metrics differ by the requests themselves (the gateway counts its HTTP requests).
          if (path === "/metrics" && a.status === 200) a.body = b.body = "";
          expect(a, `${state}: ${method} ${path}`).toEqual(b);
        }
      }
    };

    await compare("a check pending");
    expect((await see(`${gateway.url}/readyz`, "GET")).status).toBe(503);
    health.setCheck("storage", true);
    await compare("ready");
    expect(JSON.parse((await see(`${gateway.url}/readyz`, "GET")).body)).toEqual({
      status: "ok",
      draining: false,
      checks: { storage: { ok: true }, bus: { ok: true }, gateway: { ok: true } },
    });
    expect((await see(`${gateway.url}/metrics`, "GET")).body).toContain("gateway_");
    health.startDraining();
    await compare("draining");
    health.setLive(false);
    await compare("not live");
    expect((await see(`${gateway.url}/healthz`, "GET")).status).toBe(503);
  }, 30_000);
});
