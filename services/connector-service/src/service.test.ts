import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryEventBus } from "@market-scraper/bus";
import type { StandardEvent } from "@market-scraper/events";
import { HealthState, createLogger, createMetricsRegistry, parseEnv } from "@market-scraper/runtime";
import { FakeHyperliquidServer, freePort, waitFor } from "@market-scraper/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connectorEnv } from "./config.js";
import { CONNECTORS_HEALTH_CHECK, createConnectorService } from "./service.js";

const logger = createLogger({ service: "test", level: "silent" });

describe("createConnectorService", () => {
  let fake: FakeHyperliquidServer;
  let bus: MemoryEventBus;
  let dir: string;

  beforeEach(async () => {
    fake = await FakeHyperliquidServer.start();
    bus = new MemoryEventBus();
    dir = mkdtempSync(join(tmpdir(), "connector-service-"));
  });

  afterEach(async () => {
    await bus.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs this replica's shard, publishes on the bus, counts metrics and captures frames", async () => {
    const seen: StandardEvent[] = [];
    await bus.subscribe("*", (e) => {
      seen.push(e);
    });
    const registry = createMetricsRegistry({ service: "connector-service", collectDefault: false });
    const config = parseEnv(connectorEnv, {
      HYPERLIQUID_WS_URL: fake.wsUrl,
      HYPERLIQUID_REST_URL: fake.restUrl,
      HYPERLIQUID_SYMBOLS: "BTC,ETH,SOL",
      HYPERLIQUID_CHANNELS: "trade",
      CONNECTOR_SHARD: "1/2",
      CAPTURE_DIR: dir,
      HEARTBEAT_INTERVAL: "0",
    });
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({
      service: "test",
      level: "info",
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    const service = createConnectorService({ config, bus, logger: log, registry });
    await service.start();
    await waitFor(() => service.health()[0]?.state === "subscribed", { message: "subscribed" });
    expect(fake.subscriptions().map((s) => s.coin)).toEqual(["ETH"]);
    // Where the capture goes is said once, at start.
    const captureLine = lines.find((l) => l.msg === "writing the raw capture of hyperliquid");
    expect(captureLine?.file).toMatch(new RegExp(`^${dir}/hyperliquid-.*\\.jsonl$`));
    fake.pushTrades([
      { coin: "ETH", side: "A", px: "3012.5", sz: "1", time: 1790232216193, hash: "0x0", tid: 7 },
    ]);
    await waitFor(() => seen.some((e) => e.event_type === "trade"), { message: "trade on the bus" });
    await service.stop();
    expect(service.pendingPublishes).toBe(0);
    expect(seen.filter((e) => e.event_type === "connector_status").at(-1)?.payload).toMatchObject({
      status: "stopped",
    });

    const metrics = await registry.metrics();
    expect(metrics).toMatch(/market_scraper_connector_messages_in_total\{[^}]*channel="trades"[^}]*\} 1/);
    expect(metrics).toMatch(/market_scraper_connector_events_out_total\{[^}]*event_type="trade"[^}]*\} 1/);
    expect(metrics).toMatch(/market_scraper_connector_last_message_age_seconds\{[^}]*channel="trades"/);
    expect(service.droppedEvents).toBe(0);
    expect(readdirSync(dir).filter((f) => f.startsWith("hyperliquid-") && f.endsWith(".jsonl"))).toHaveLength(
      1,
    );
  });

  it("stays ready when the exchange cannot be reached, and says degraded with the reason", async () => {
    const health = new HealthState();
    const port = await freePort();
    const config = parseEnv(connectorEnv, {
      HYPERLIQUID_WS_URL: fake.wsUrl,
      HYPERLIQUID_REST_URL: `http://127.0.0.1:${port}`,
      HYPERLIQUID_SYMBOLS: "BTC",
      HYPERLIQUID_RECONNECT_INITIAL: "10ms",
      HYPERLIQUID_RECONNECT_MAX: "20ms",
      HEARTBEAT_INTERVAL: "0",
    });
    const service = createConnectorService({ config, bus, logger, health });
    await service.start();
    const check = (): { ok: boolean; detail?: string } | undefined =>
      health.snapshot().checks[CONNECTORS_HEALTH_CHECK];
    await waitFor(() => check()?.detail?.includes("ECONNREFUSED") === true, {
      timeoutMs: 20_000,
      message: "readiness detail with the cause",
    });
    expect(check()?.detail).toMatch(
      /^degraded: hyperliquid connecting: resolving symbols.*; last error: REST_FAILED: .*ECONNREFUSED 127\.0\.0\.1/,
    );
    // An exchange outage must not take the pod out of service.
    expect(health.ready).toBe(true);
    await service.stop();
  });

  it("drops market data (never system events) beyond the bound of pending publishes", async () => {
    let release: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const published: StandardEvent[] = [];
    const slowBus = {
      publish: (e: StandardEvent) => {
        published.push(e);
        return stuck;
      },
    };
    const config = parseEnv(connectorEnv, {
      HYPERLIQUID_WS_URL: fake.wsUrl,
      HYPERLIQUID_REST_URL: fake.restUrl,
      HYPERLIQUID_SYMBOLS: "BTC",
      HYPERLIQUID_CHANNELS: "trade",
      HEARTBEAT_INTERVAL: "0",
    });
    const service = createConnectorService({ config, bus: slowBus, logger, maxPendingPublishes: 5 });
    await service.start();
    await waitFor(() => service.health()[0]?.state === "subscribed", { message: "subscribed" });
    const trades = Array.from({ length: 10 }, (_, i) => ({
      coin: "BTC",
      side: "B" as const,
      px: "1",
      sz: "1",
      time: 1790232216193,
      hash: "0x0",
      tid: 100 + i,
    }));
    fake.pushTrades(trades);
    await waitFor(() => service.droppedEvents > 0, { message: "drops" });
    const stopping = service.stop();
    release();
    await stopping;
    expect(published.filter((e) => e.event_type === "trade").length).toBeLessThan(10);
    expect(published.filter((e) => e.event_type === "trade").length + service.droppedEvents).toBe(10);
    expect(published.filter((e) => e.event_type === "connector_status").at(-1)?.payload).toMatchObject({
      status: "stopped",
    });
  });
});
