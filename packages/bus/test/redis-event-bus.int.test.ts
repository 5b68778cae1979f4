import { randomUUID } from "node:crypto";
import { type RedisServerHandle, startRedis } from "@market-scraper/testkit";
import { afterAll, beforeAll } from "vitest";
import { RedisEventBus } from "../src/index.js";
import { describeBusContract } from "./contract-suite.js";

let server: RedisServerHandle;
// One channel per file run: every bus of the suite shares it, as the processes of one system would.
const channel = `ms-test-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await server?.stop();
});

describeBusContract(
  "RedisEventBus",
  () => ({
    create: async (options) => new RedisEventBus({ url: server.url, channel, ...options }),
  }),
  { outage: false },
);
