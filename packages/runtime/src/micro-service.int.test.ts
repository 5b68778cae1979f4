import { randomUUID } from "node:crypto";
import { Svcm } from "@nats-io/services";
import { type NatsServerHandle, startNats } from "@market-scraper/testkit";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerMicroService } from "./micro-service.js";
import { RuntimeError } from "./runtime-error.js";

let server: NatsServerHandle;
let nc: NatsConnection;
beforeAll(async () => {
  // The suite's NATS server (the current one; MARKET_SCRAPER_NATS=oldest for the oldest supported).
  server = await startNats({ jetstream: false });
  nc = await connect({ servers: server.url.split(","), noAsyncTraces: true });
});
afterAll(async () => {
  await nc.drain();
  await server.stop();
});

describe("registerMicroService", () => {
  it("answers $SRV.PING, $SRV.INFO and $SRV.STATS and serves grouped endpoints", async () => {
    const name = `runtime-test-${randomUUID().slice(0, 8)}`;
    const service = await registerMicroService(nc, {
      name,
      version: "0.1.0",
      description: "runtime integration test",
      metadata: { component: "test" },
    });
    service.addGroup("runtime-test").addEndpoint(`echo-${name}`, (err, msg) => {
      if (err === null) msg.respond(msg.data);
    });

    const ping = (await nc.request(`$SRV.PING.${name}`, "", { timeout: 5_000 })).json<
      Record<string, unknown>
    >();
    expect(ping).toMatchObject({
      type: "io.nats.micro.v1.ping_response",
      name,
      version: "0.1.0",
      id: service.info().id,
      metadata: { component: "test" },
    });

    const info = (await nc.request(`$SRV.INFO.${name}`, "", { timeout: 5_000 })).json<
      Record<string, unknown>
    >();
    expect(info).toMatchObject({
      type: "io.nats.micro.v1.info_response",
      name,
      description: "runtime integration test",
      endpoints: [{ name: `echo-${name}`, subject: `runtime-test.echo-${name}`, queue_group: "q" }],
    });

    const reply = await nc.request(`runtime-test.echo-${name}`, "hello", { timeout: 5_000 });
    expect(reply.string()).toBe("hello");

    const stats = (await nc.request(`$SRV.STATS.${name}`, "", { timeout: 5_000 })).json<{
      endpoints: { num_requests: number }[];
    }>();
    expect(stats.endpoints[0]?.num_requests).toBe(1);

    // The discovery client of @nats-io/services (what `nats micro ls` does) finds it among all services.
    const client = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).client();
    const found: string[] = [];
    for await (const identity of await client.ping()) found.push(identity.name);
    expect(found).toContain(name);

    await service.stop();
    await expect(nc.request(`$SRV.PING.${name}`, "", { timeout: 2_000 })).rejects.toThrow();
  });

  it("refuses a name with dots", async () => {
    const error: unknown = await registerMicroService(nc, {
      name: "storage.service",
      version: "0.1.0",
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code: "MICRO_SERVICE_FAILED" });
    expect((error as Error).message).toContain("storage.service");
  });
});
