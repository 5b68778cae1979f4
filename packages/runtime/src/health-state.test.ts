import { describe, expect, it } from "vitest";
import { HealthState } from "./health-state.js";

describe("HealthState", () => {
  it("is live and ready with no checks", () => {
    const health = new HealthState();
    expect(health.live).toBe(true);
    expect(health.ready).toBe(true);
  });

  it("is not ready until every check passes", () => {
    const health = new HealthState(["nats"]);
    expect(health.ready).toBe(false);
    expect(health.snapshot().checks).toEqual({ nats: { ok: false, detail: "pending" } });
    health.setCheck("nats", true);
    health.setCheck("store", false, "connecting");
    expect(health.ready).toBe(false);
    health.setCheck("store", true);
    expect(health.ready).toBe(true);
    health.removeCheck("store");
    expect(Object.keys(health.snapshot().checks)).toEqual(["nats"]);
  });

  it("shows no URL credentials in a check's detail (/healthz, /readyz)", () => {
    const health = new HealthState();
    health.setCheck("database", false, "connect to postgres://u:S3cretPW@db:5432/market failed");
    expect(health.snapshot().checks).toEqual({
      database: { ok: false, detail: "connect to postgres://u:***@db:5432/market failed" },
    });
  });

  it("is not ready while draining, for good", () => {
    const health = new HealthState();
    health.startDraining();
    health.setCheck("nats", true);
    expect(health.ready).toBe(false);
    expect(health.live).toBe(true);
    expect(health.snapshot()).toEqual({
      live: true,
      ready: false,
      draining: true,
      checks: { nats: { ok: true } },
    });
  });

  it("is neither live nor ready once marked not live", () => {
    const health = new HealthState();
    health.setLive(false);
    expect(health.live).toBe(false);
    expect(health.ready).toBe(false);
  });
});
