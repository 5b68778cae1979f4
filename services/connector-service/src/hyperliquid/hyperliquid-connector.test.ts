import { StandardEvent } from "@market-scraper/events";
import { createLogger } from "@market-scraper/runtime";
import { FakeHyperliquidServer, freePort, waitFor } from "@market-scraper/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ConnectorMetrics, noopConnectorMetrics } from "../framework/connector-metrics.js";
import { HyperliquidConnector, type HyperliquidConnectorOptions } from "./hyperliquid-connector.js";

const logger = createLogger({ service: "test", level: "silent" });

describe("HyperliquidConnector against the fake server", () => {
  let fake: FakeHyperliquidServer;
  let connector: HyperliquidConnector | undefined;
  let events: StandardEvent[];

  beforeEach(async () => {
    fake = await FakeHyperliquidServer.start();
    events = [];
  });

  afterEach(async () => {
    await connector?.stop();
    await fake.close();
  });

  function start(options: Partial<HyperliquidConnectorOptions>): HyperliquidConnector {
    connector = new HyperliquidConnector({
      wsUrl: fake.wsUrl,
      restUrl: fake.restUrl,
      symbols: ["BTC"],
      channels: ["trade"],
      sink: { publish: (event) => events.push(event) },
      logger,
      heartbeatIntervalMs: 0,
      backoff: { initialMs: 20, maxMs: 100 },
      restWeightPerMinute: 120_000,
      ...options,
    });
    void connector.start();
    return connector;
  }

  const statuses = (): string[] =>
    events
      .filter((e) => e.event_type === "connector_status")
      .map((e) => (e.payload as { status: string }).status);
  const errors = (code: string): StandardEvent[] =>
    events.filter(
      (e) => e.event_type === "error" && (e.payload as { error_code: string }).error_code === code,
    );

  it("reports 429s on the symbol lookup as RATE_LIMIT errors and still gets there", async () => {
    fake.failRest(2, 429, 0);
    const c = start({});
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    expect(errors("RATE_LIMIT").length).toBeGreaterThanOrEqual(2);
    expect(errors("RATE_LIMIT")[0]!.priority).toBe(1);
    expect(c.health()).toMatchObject({ status: "healthy", state: "subscribed" });
  });

  it("stops promptly while the symbol lookup is backing off", async () => {
    fake.failRest(1_000, 503);
    const c = start({ backoff: { initialMs: 60_000, maxMs: 60_000 } });
    await waitFor(() => fake.restRequests.length >= 2, { message: "meta and spotMeta tried" });
    await c.stop(); // would wait minutes if the retry backoff were not interrupted
    expect(statuses().at(-1)).toBe("stopped");
  });

  it("drops a coin the exchange delisted after the socket keeps closing, and keeps the others", async () => {
    const c = start({ symbols: ["BTC", "ETH"] });
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    fake.delist("ETH");
    fake.dropConnections(); // the new connection's ETH subscription makes the server close the socket
    await waitFor(() => errors("INVALID_SYMBOL").length === 1, { timeoutMs: 10_000, message: "ETH dropped" });
    await waitFor(() => c.state === "subscribed" && fake.hasSubscription("trades", "BTC"), {
      message: "BTC back",
    });
    expect(
      (errors("INVALID_SYMBOL")[0]!.payload as unknown as { details: { symbol: string } }).details.symbol,
    ).toBe("ETH");
    expect(c.unknownSymbols).toEqual(["ETH"]);
    expect(c.health().status).toBe("degraded");
  });

  it("reports a subscription without an ack as SUBSCRIBE_FAILED and stays up, degraded", async () => {
    fake.withholdAcks("l2Book");
    const c = start({ channels: ["trade", "order_book"], ackTimeoutMs: 200 });
    await waitFor(() => c.state === "subscribed", { message: "subscribed after the ack timeout" });
    expect(
      errors("SUBSCRIBE_FAILED").map(
        (e) => (e.payload as unknown as { details: { subscription: string } }).details.subscription,
      ),
    ).toEqual(["l2Book|BTC|"]);
    expect(c.health()).toMatchObject({ status: "degraded" });
  });

  it("detects a stale channel, says so and reconnects", async () => {
    start({ channels: ["order_book"], staleAfterMs: { order_book: 300 } });
    await waitFor(() => statuses().includes("stale"), { message: "stale" });
    await waitFor(() => statuses().filter((s) => s === "subscribed").length >= 2, {
      message: "re-subscribed",
    });
    const stale = statuses().indexOf("stale");
    expect(statuses().slice(stale, stale + 2)).toEqual(["stale", "reconnecting"]);
    expect(errors("STALE").length).toBeGreaterThanOrEqual(1);
  });

  it("reports a binary frame as UNEXPECTED_FRAME, counts it under channel binary and stays connected", async () => {
    const counted: string[] = [];
    const metrics: ConnectorMetrics = {
      ...noopConnectorMetrics,
      messageIn: (_connector, channel) => counted.push(`in:${channel}`),
      parseError: (_connector, channel) => counted.push(`error:${channel}`),
    };
    const c = start({ metrics });
    await waitFor(() => c.state === "subscribed", { message: "subscribed" });
    const accepted = fake.connectionsAccepted;
    fake.sendBinary(new Uint8Array([0x7b, 0x00, 0xff, 0x10]));
    fake.pushTrades([
      { coin: "BTC", side: "B", px: "69997.0", sz: "0.5", time: 1730160006192, hash: "0x1", tid: 77 },
    ]);
    await waitFor(() => events.some((e) => e.event_type === "trade"), { message: "trade after binary" });
    expect(errors("UNEXPECTED_FRAME")).toHaveLength(1);
    expect(errors("UNEXPECTED_FRAME")[0]!.payload).toMatchObject({
      message: "hyperliquid sent a binary frame (4 bytes); it sends text frames only",
      details: { channel: "binary", bytes: 4 },
    });
    expect(counted).toEqual(expect.arrayContaining(["in:binary", "error:binary"]));
    expect(c.state).toBe("subscribed");
    expect(fake.connectionsAccepted).toBe(accepted);
  });

  it("measures the keepalive round trip as latency", async () => {
    const c = start({ pingIntervalMs: 50 });
    await waitFor(() => c.health().latency_ms !== null, { message: "pong" });
    expect(c.health().latency_ms).toBeGreaterThanOrEqual(0);
    await c.stop();
    expect(statuses().at(-1)).toBe("stopped");
    expect(c.health().status).toBe("unhealthy");
  });
});

describe("HyperliquidConnector when the exchange cannot be reached (no network)", () => {
  let connector: HyperliquidConnector | undefined;
  afterEach(async () => {
    await connector?.stop();
    connector = undefined;
  });

  /** Starts against `restUrl`; returns the events, the log lines and the readiness of a service around it. */
  async function startUnreachable(restUrl: string) {
    const events: StandardEvent[] = [];
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({
      service: "test",
      level: "info",
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    });
    connector = new HyperliquidConnector({
      wsUrl: "ws://127.0.0.1:9/ws",
      restUrl,
      symbols: ["BTC"],
      channels: ["trade"],
      sink: { publish: (event) => events.push(event) },
      logger: log,
      heartbeatIntervalMs: 0,
      backoff: { initialMs: 10, maxMs: 20 },
      restWeightPerMinute: 120_000,
    });
    await connector.start();
    const failed = (): StandardEvent[] =>
      events.filter(
        (e) => e.event_type === "error" && (e.payload as { error_code: string }).error_code === "REST_FAILED",
      );
    await waitFor(() => failed().length >= 1, { timeoutMs: 20_000, message: "REST_FAILED error event" });
    return { events, lines, failed: failed()[0]!, connector };
  }

  function expectCause(run: Awaited<ReturnType<typeof startUnreachable>>, cause: RegExp, code: string): void {
    // The error event and the log line say why, not just "fetch failed".
    const payload = run.failed.payload as { message: string; details: { cause?: string } };
    expect(payload.message).toMatch(cause);
    expect(payload.details.cause).toBe(code);
    const logged = run.lines.find((l) => l.error_code === "REST_FAILED");
    expect(String(logged?.msg)).toMatch(cause);
    // A connector_status event carries it, so the API and the page can show it.
    const status = run.events
      .filter((e) => e.event_type === "connector_status")
      .map((e) => StandardEvent.parse(e).payload as Record<string, unknown>)
      .find((p) => p.last_error !== undefined);
    expect(status).toMatchObject({ status: "connecting", last_error: expect.stringMatching(cause) });
    expect(Date.parse(String(status!.last_error_at))).not.toBeNaN();
    // Health says what it is waiting for and why.
    const health = run.connector.health();
    expect(health.detail).toMatch(/^connecting: resolving symbols/);
    expect(health.detail).toMatch(cause);
    expect(health.last_error).toMatch(cause);
  }

  it("names the cause of a refused connection (closed port → ECONNREFUSED)", async () => {
    const port = await freePort();
    const run = await startUnreachable(`http://127.0.0.1:${port}`);
    expectCause(run, /ECONNREFUSED 127\.0\.0\.1/, "ECONNREFUSED");
  });

  it("names the cause of an unresolvable host (.invalid → ENOTFOUND)", async () => {
    const run = await startUnreachable("http://api.hyperliquid.invalid");
    expectCause(run, /ENOTFOUND api\.hyperliquid\.invalid/, "ENOTFOUND");
  });
});
