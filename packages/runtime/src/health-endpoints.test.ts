import { describe, expect, it } from "vitest";
import { HEALTH_PATHS, healthEndpoints } from "./health-endpoints.js";
import { HealthState } from "./health-state.js";
import { createMetricsRegistry } from "./metrics.js";

const registry = () => createMetricsRegistry({ service: "test-service", collectDefault: false });

describe("healthEndpoints", () => {
  it("answers only the health paths, GET and HEAD; 405 with Allow for other methods", async () => {
    const answer = healthEndpoints({ health: new HealthState(), registry: registry() });
    expect(HEALTH_PATHS).toEqual(["/healthz", "/readyz", "/metrics"]);
    expect(await answer("GET", "/v1/markets")).toBeUndefined();
    expect(await answer("GET", "/healthz/")).toBeUndefined();
    for (const path of HEALTH_PATHS) {
      expect((await answer("GET", path))?.status).toBe(200);
      expect((await answer("HEAD", path))?.status).toBe(200);
      expect((await answer("HEAD", path))?.headers["cache-control"]).toBe("no-store");
    }
    expect(await answer("DELETE", "/readyz")).toEqual({
      status: 405,
      headers: {
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
        allow: "GET, HEAD",
      },
      body: JSON.stringify({
        error: { code: "METHOD_NOT_ALLOWED", message: "DELETE is not allowed on /readyz" },
      }),
    });
  });

  it("is not ready while a check of the server's own fails, and draining when the server says so", async () => {
    const health = new HealthState(["nats"]);
    health.setCheck("nats", true);
    let bus = { ok: false, detail: "not connected" };
    let stopping = false;
    const answer = healthEndpoints({
      health,
      registry: registry(),
      checks: () => ({ bus }),
      draining: () => stopping,
    });
    const readyz = async () => {
      const a = (await answer("GET", "/readyz"))!;
      return { status: a.status, body: JSON.parse(a.body) as unknown };
    };

    expect(await readyz()).toEqual({
      status: 503,
      body: {
        status: "not_ready",
        draining: false,
        checks: { nats: { ok: true }, bus: { ok: false, detail: "not connected" } },
      },
    });
    bus = { ok: true, detail: "connected" };
    expect(await readyz()).toMatchObject({ status: 200, body: { status: "ok", draining: false } });
    stopping = true;
    expect(await readyz()).toMatchObject({ status: 503, body: { status: "not_ready", draining: true } });
    // Liveness is the process's alone.
    expect((await answer("GET", "/healthz"))?.status).toBe(200);
  });

  it("serves the registry as Prometheus text", async () => {
    const metrics = registry();
    const answer = await healthEndpoints({ health: new HealthState(), registry: metrics })("GET", "/metrics");
    expect(answer?.headers["content-type"]).toBe(metrics.contentType);
    expect(answer?.body).toBe(await metrics.metrics());
  });
});
