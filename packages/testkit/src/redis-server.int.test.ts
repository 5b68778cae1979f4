import { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LOCAL_REDIS_URL, redisAnswersPing, startRedis, type RedisServerHandle } from "./redis-server.js";

async function withClient<T>(server: RedisServerHandle, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(server.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}

describe("startRedis (isolated, spawned binary)", () => {
  let server: RedisServerHandle | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it("serves commands, restarts on the same port, comes back after kill()", async () => {
    server = await startRedis({ isolated: true });
    expect(server).toMatchObject({ owned: true, kind: "process" });
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    const { url } = server;

    await withClient(server, async (client) => {
      await client.set("testkit:key", "value");
      expect(await client.get("testkit:key")).toBe("value");
    });

    await server.restart();
    expect(server.url).toBe(url);
    expect(await redisAnswersPing(url)).toBe(true);

    await server.kill();
    expect(await redisAnswersPing(url)).toBe(false);
    await server.start();
    await withClient(server, async (client) => {
      expect(await client.ping()).toBe("PONG");
    });

    await server.stop();
    await server.stop(); // idempotent
    expect(await redisAnswersPing(url)).toBe(false);
  });

  it("restart() works after kill()", async () => {
    server = await startRedis({ isolated: true });
    await server.kill();
    await server.restart();
    expect(await redisAnswersPing(server.url)).toBe(true);
  });
});

describe("startRedis (shared)", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("uses REDIS_URL as given and refuses fault injection", async () => {
    vi.stubEnv("REDIS_URL", "redis://127.0.0.1:6999");
    const server = await startRedis();
    expect(server).toMatchObject({
      url: "redis://127.0.0.1:6999",
      port: 6999,
      owned: false,
      kind: "external",
    });
    await expect(server.kill()).rejects.toThrow(/isolated: true/);
    await expect(server.restart()).rejects.toThrow(/isolated: true/);
    await server.stop();
  });

  it("uses the server on 127.0.0.1:6379 when one answers, else starts one", async () => {
    vi.stubEnv("REDIS_URL", "");
    const local = await redisAnswersPing(LOCAL_REDIS_URL);
    const server = await startRedis();
    try {
      if (local) expect(server).toMatchObject({ url: LOCAL_REDIS_URL, owned: false, kind: "external" });
      else expect(server.owned).toBe(true);
      expect(await redisAnswersPing(server.url)).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
