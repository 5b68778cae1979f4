import { existsSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { currentNatsBinaries } from "./find-binary.js";
import { startNats, type NatsServerHandle } from "./nats-server.js";
import { TestkitError } from "./testkit-error.js";

const STREAM = "TESTKIT";

async function withConnection<T>(
  server: NatsServerHandle,
  use: (nc: NatsConnection) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers: server.url, reconnect: false, timeout: 2_000 });
  try {
    return await use(nc);
  } finally {
    await nc.close();
  }
}

async function storedMessages(server: NatsServerHandle): Promise<string[]> {
  return withConnection(server, async (nc) => {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(STREAM);
    const bodies: string[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq += 1) {
      const msg = await jsm.streams.getMessage(STREAM, { seq });
      if (msg) bodies.push(msg.string());
    }
    return bodies;
  });
}

describe("startNats (isolated, spawned binary)", () => {
  let server: NatsServerHandle | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it("keeps JetStream data across restart() and kill() + start(), and cleans up on stop()", async () => {
    server = await startNats({ isolated: true });
    expect(server.owned).toBe(true);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(server.storeDir).toBeDefined();
    const { url, storeDir } = server;

    await withConnection(server, async (nc) => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: STREAM, subjects: ["testkit.>"] });
      const ack = await jetstream(nc).publish("testkit.hello", "first");
      expect(ack.seq).toBe(1);
    });

    await server.restart();
    expect(server.url).toBe(url);
    expect(await storedMessages(server)).toEqual(["first"]);

    await server.kill();
    await expect(connect({ servers: url, reconnect: false, timeout: 1_000 })).rejects.toThrow();
    await server.start();
    expect(await storedMessages(server)).toEqual(["first"]);

    await server.stop();
    await server.stop(); // idempotent
    expect(existsSync(storeDir!)).toBe(false);
    await expect(connect({ servers: url, reconnect: false, timeout: 1_000 })).rejects.toThrow();
  });

  it("restart() works after kill()", async () => {
    server = await startNats({ isolated: true });
    await server.kill();
    await server.restart();
    await withConnection(server, (nc) => nc.flush());
  });

  it("starts without JetStream when asked", async () => {
    server = await startNats({ isolated: true, jetstream: false });
    expect(server.storeDir).toBeUndefined();
    await withConnection(server, async (nc) => {
      await nc.flush();
      await expect(jetstreamManager(nc)).rejects.toThrow();
    });
  });

  it("passes extra args to nats-server", async () => {
    server = await startNats({ isolated: true, jetstream: false, args: ["--name", "testkit-nats"] });
    await withConnection(server, (nc) => {
      expect(nc.info?.server_name).toBe("testkit-nats");
      return Promise.resolve();
    });
  });

  it("fails with the server's output when it cannot start", async () => {
    await expect(startNats({ isolated: true, args: ["--no-such-flag"] })).rejects.toThrow(
      /nats-server did not start[\s\S]*no-such-flag/,
    );
  });
});

describe("startNats with NATS_URL", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("uses the given server, does not own it, and refuses fault injection", async () => {
    vi.stubEnv("NATS_URL", "nats://127.0.0.1:4999");
    const server = await startNats();
    expect(server).toMatchObject({
      url: "nats://127.0.0.1:4999",
      port: 4999,
      owned: false,
      kind: "external",
    });
    await expect(server.kill()).rejects.toThrow(/isolated: true/);
    await expect(server.restart()).rejects.toThrow(/isolated: true/);
    await server.stop();
  });

  it("is ignored with isolated: true", async () => {
    vi.stubEnv("NATS_URL", "nats://127.0.0.1:4999");
    const server = await startNats({ isolated: true, jetstream: false });
    try {
      expect(server.owned).toBe(true);
      expect(server.url).not.toBe("nats://127.0.0.1:4999");
    } finally {
      await server.stop();
    }
  });
});

describe('startNats({ version: "current" })', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("starts the server .ci/install-nats pinned, even with NATS_URL set", async () => {
    vi.stubEnv("NATS_URL", "nats://127.0.0.1:4999");
    const server = await startNats({ version: "current", jetstream: false });
    try {
      expect(server.owned).toBe(true);
      const nc = await connect({ servers: server.url });
      expect(nc.info?.version).toBe(currentNatsBinaries().version);
      await nc.close();
    } finally {
      await server.stop();
    }
  });

  it("names .ci/install-nats in one line when the server is not installed", async () => {
    vi.stubEnv("XDG_CACHE_HOME", "/nonexistent-cache");
    const error = await startNats({ version: "current" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestkitError);
    expect(error).toMatchObject({ code: "NO_BACKEND" });
    expect((error as Error).message).toMatch(
      /^NATS server [\d.]+ is not installed at \/nonexistent-cache\/.*\.ci\/install-nats/,
    );
    expect((error as Error).message).not.toContain("\n");
  });
});
