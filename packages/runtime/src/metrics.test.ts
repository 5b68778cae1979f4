import { describe, expect, it } from "vitest";
import { createMetricsRegistry, registerBusMetrics, type BusCounter } from "./metrics.js";

function fakeBus() {
  const counters: Record<BusCounter, number> = {
    published: 0,
    delivered: 0,
    failed: 0,
    dead_lettered: 0,
    malformed: 0,
    dropped: 0,
  };
  return { counters, bus: { metrics: () => ({ ...counters }) } };
}

function sample(text: string, name: string): string | undefined {
  return text
    .split("\n")
    .find((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    ?.split(" ")
    .at(-1);
}

describe("createMetricsRegistry", () => {
  it("collects default process metrics labelled with the service", async () => {
    const registry = createMetricsRegistry({ service: "gateway-service" });
    const text = await registry.metrics();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="gateway-service"\} /m);
    expect(text).toContain("nodejs_eventloop_lag_seconds");
  });

  it("can leave default metrics out", async () => {
    const registry = createMetricsRegistry({ service: "s", collectDefault: false });
    expect(await registry.metrics()).not.toContain("process_cpu");
  });
});

describe("registerBusMetrics", () => {
  it("exports the bus counters, read at scrape time", async () => {
    const registry = createMetricsRegistry({ service: "s", collectDefault: false });
    const { counters, bus } = fakeBus();
    registerBusMetrics(registry, bus);

    let text = await registry.metrics();
    expect(text).toContain("# TYPE market_scraper_bus_published_total counter");
    for (const name of ["published", "delivered", "failed", "dead_lettered", "malformed", "dropped"]) {
      expect(sample(text, `market_scraper_bus_${name}_total`)).toBe("0");
    }
    expect(text).toContain('market_scraper_bus_published_total{service="s"} 0');

    counters.published = 10;
    counters.delivered = 7;
    counters.dead_lettered = 1;
    text = await registry.metrics();
    expect(sample(text, "market_scraper_bus_published_total")).toBe("10");
    expect(sample(text, "market_scraper_bus_delivered_total")).toBe("7");
    expect(sample(text, "market_scraper_bus_dead_lettered_total")).toBe("1");

    counters.published = 12;
    text = await registry.metrics();
    expect(sample(text, "market_scraper_bus_published_total")).toBe("12");
  });

  it("stays monotonic when the bus snapshot goes down (a new bus)", async () => {
    const registry = createMetricsRegistry({ service: "s", collectDefault: false });
    const { counters, bus } = fakeBus();
    registerBusMetrics(registry, bus);
    counters.published = 10;
    await registry.metrics();
    counters.published = 3;
    expect(sample(await registry.metrics(), "market_scraper_bus_published_total")).toBe("13");
  });
});
