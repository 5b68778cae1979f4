import { startNats } from "@market-scraper/testkit";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { HealthState } from "./health-state.js";
import { createLogger } from "./logger.js";
import { connectNats } from "./nats.js";

function capture() {
  const lines: { level: string; msg: string }[] = [];
  const logger = createLogger({
    service: "runtime-int",
    level: "debug",
    destination: {
      write: (line: string) => void lines.push(JSON.parse(line) as { level: string; msg: string }),
    },
  });
  return { logger, lines, messages: () => lines.map((line) => line.msg) };
}

describe("connectNats", () => {
  it("connects to the configured server and keeps the health check in step", async () => {
    const { logger, messages } = capture();
    const health = new HealthState();
    const server = await startNats({ jetstream: false });
    onTestFinished(() => server.stop());
    const nc = await connectNats(
      { NATS_URL: server.url.split(",") },
      { name: "runtime-int-test", logger, health },
    );
    expect(messages()).toContain("connected to NATS");
    expect(health.snapshot().checks).toEqual({ nats: { ok: true } });
    expect(nc.info?.client_id).toBeDefined();

    await nc.close();
    await vi.waitFor(() => expect(messages()).toContain("NATS connection closed"));
    expect(health.snapshot().checks).toEqual({ nats: { ok: false, detail: "closed" } });
  });

  it("waits for a server that starts later, logs disconnect and reconnect, and authenticates with a token", async () => {
    const { logger, messages, lines } = capture();
    const health = new HealthState();
    const token = "s3cret-token";
    // A private server with token auth, taken down before the client starts and brought back later.
    const server = await startNats({ jetstream: false, isolated: true, args: ["--auth", token] });
    await server.kill();
    const config = { NATS_URL: [server.url], NATS_TOKEN: token };

    const connecting = connectNats(config, { name: "runtime-int-reconnect", logger, health });
    await Promise.resolve();
    expect(health.snapshot().checks).toEqual({ nats: { ok: false, detail: "connecting" } });
    await server.start();
    const nc = await connecting;
    expect(health.ready).toBe(true);

    await server.kill();
    await vi.waitFor(() => expect(messages()).toContain("disconnected from NATS"), { timeout: 10_000 });
    expect(health.ready).toBe(false);
    expect(lines.find((line) => line.msg === "disconnected from NATS")?.level).toBe("warn");

    await server.start();
    await vi.waitFor(() => expect(messages()).toContain("reconnected to NATS"), {
      timeout: 20_000,
      interval: 50,
    });
    expect(health.ready).toBe(true);
    expect(lines.find((line) => line.msg === "reconnecting to NATS")?.level).toBe("debug");

    // The connection works again after the reconnect.
    const sub = nc.subscribe("runtime.int.echo", {
      max: 1,
      callback: (_err, msg) => void msg.respond(msg.data),
    });
    const reply = await nc.request("runtime.int.echo", "ping", { timeout: 5_000 });
    expect(reply.string()).toBe("ping");
    sub.unsubscribe();
    await nc.close();
    await server.stop();
    expect(JSON.stringify(lines)).not.toContain(token);
  });
});
