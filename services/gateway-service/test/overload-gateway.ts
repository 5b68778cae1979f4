// The child process of gateway-overload.test.ts (run with tsx): a gateway over MemoryEventBus, configured
// from its environment, that publishes clones of an event as fast as it can when the parent asks.
import { randomUUID } from "node:crypto";
import { MemoryEventBus } from "@market-scraper/bus";
import type { StandardEvent } from "@market-scraper/events";
import { createLogger, parseEnv } from "@market-scraper/runtime";
import { LocalStorageClient, createGatewayService, gatewayEnv } from "../src/index.js";

export type OverloadRequest = { type: "publish"; template: StandardEvent; count: number };
export type OverloadReply = { type: "ready"; port: number } | { type: "published"; count: number };

const send = (reply: OverloadReply) => process.send?.(reply);
// A short bus queue: the memory measured is the streams', not a backlog of undelivered events.
const bus = new MemoryEventBus({ queueSize: 1000 });
const gateway = createGatewayService({
  bus,
  storage: new LocalStorageClient(async () => ({ data: [] })),
  logger: createLogger({ service: "gateway-overload", level: "warn" }),
  config: parseEnv(gatewayEnv, process.env),
  host: "127.0.0.1",
});
await gateway.start();

process.on("message", (message: OverloadRequest) => {
  void (async () => {
    for (let i = 0; i < message.count; i++) {
      await bus.publish({ ...message.template, event_id: randomUUID() });
      // Let the sockets write now and then, as a live feed would.
      if (i % 200 === 199) await new Promise((resolve) => setImmediate(resolve));
    }
    send({ type: "published", count: message.count });
  })();
});
process.on("disconnect", () => void gateway.stop().then(() => process.exit(0)));
send({ type: "ready", port: gateway.port });
