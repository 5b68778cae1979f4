import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { currentNatsBinaries, findBinary } from "./find-binary.js";
import { natsServersStarted, natsServersSummary, startNats, type NatsServerHandle } from "./nats-server.js";
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

/** The version `nats-server --version` of the binary on PATH / in /usr/sbin names (Debian: 2.9.10). */
function systemServerVersion(): string {
  const out = execFileSync(findBinary("nats-server")!, ["--version"], { encoding: "utf8" });
  return /v(\d+\.\d+\.\d+)/.exec(out)![1]!;
}

async function serverVersion(server: NatsServerHandle): Promise<string | undefined> {
  return withConnection(server, async (nc) => nc.info?.version);
}

describe("which NATS server a test gets (MARKET_SCRAPER_NATS, NATS_SERVER_BIN)", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("is the current pinned server by default, and says so in its handle and the file's summary", async () => {
    vi.stubEnv("MARKET_SCRAPER_NATS", "");
    vi.stubEnv("NATS_SERVER_BIN", "");
    const server = await startNats({ isolated: true, jetstream: false });
    try {
      const { version } = currentNatsBinaries();
      expect(server.version).toBe(version);
      expect(await serverVersion(server)).toBe(version);
      expect(natsServersStarted().at(-1)).toEqual({
        kind: "process",
        version,
        from: currentNatsBinaries().serverPath,
      });
      expect(natsServersSummary()).toContain(version);
    } finally {
      await server.stop();
    }
  });

  it("is the system server (the oldest supported) with MARKET_SCRAPER_NATS=oldest", async () => {
    vi.stubEnv("MARKET_SCRAPER_NATS", "oldest");
    const server = await startNats({ isolated: true, jetstream: false });
    try {
      expect(systemServerVersion()).not.toBe(currentNatsBinaries().version);
      expect(server.version).toBe(systemServerVersion());
      expect(await serverVersion(server)).toBe(systemServerVersion());
    } finally {
      await server.stop();
    }
  });

  it("is NATS_SERVER_BIN when set (instead of the pinned one)", async () => {
    vi.stubEnv("NATS_SERVER_BIN", findBinary("nats-server"));
    const server = await startNats({ isolated: true, jetstream: false });
    try {
      expect(await serverVersion(server)).toBe(systemServerVersion());
    } finally {
      await server.stop();
    }
  });

  it("refuses any other MARKET_SCRAPER_NATS in one line naming the variable", async () => {
    vi.stubEnv("MARKET_SCRAPER_NATS", "2.9");
    const error = await startNats({ isolated: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestkitError);
    expect(error).toMatchObject({ code: "BAD_OPTION" });
    expect((error as Error).message).toBe(
      'MARKET_SCRAPER_NATS="2.9": expected "current" (the default) or "oldest"',
    );
  });
});
