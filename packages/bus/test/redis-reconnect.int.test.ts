import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../src/backoff.js";
import type { BusLogger } from "../src/logger.js";
import { REDIS_RECONNECT_BACKOFF, RedisEventBus } from "../src/redis-event-bus.js";

/** A port nothing listens on (taken from the OS, then released): every connection attempt is refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("RedisEventBus reconnects", () => {
  it("wait the one backoff formula (injected randomness) between attempts", async () => {
    const reconnects: number[] = [];
    const logger: BusLogger = {
      debug: (obj) => {
        const { retryInMs } = obj as { retryInMs?: number };
        if (retryInMs !== undefined) reconnects.push(retryInMs);
      },
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    };
    const bus = new RedisEventBus({
      url: `redis://127.0.0.1:${await closedPort()}`,
      channel: "reconnect-test",
      logger,
      random: () => 0.5,
    });
    await expect.poll(() => reconnects.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    expect(reconnects.slice(0, 3)).toEqual(
      [1, 2, 3].map((attempt) => backoffDelay(attempt, REDIS_RECONNECT_BACKOFF, () => 0.5)),
    );
    expect(reconnects.slice(0, 3)).toEqual([75, 150, 300]);
    await bus.close();
  });
});
