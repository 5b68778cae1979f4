import type { StandardEvent } from "@market-scraper/events";
import { createLogger } from "@market-scraper/runtime";
import { describe, expect, it } from "vitest";
import { ERRORS_PER_SECOND } from "./connector.js";
import { ReplayConnector } from "./replay-connector.js";
import { ManualScheduler } from "./scheduler.js";

describe("Connector error events", () => {
  it("are limited per code and second, the next one telling how many were left out", async () => {
    const scheduler = new ManualScheduler(0);
    const events: StandardEvent[] = [];
    let io:
      { error(code: "PARSE_ERROR", message: string, details: Record<string, unknown>): void } | undefined;
    const connector = new ReplayConnector({
      name: "test",
      file: new URL("../../fixtures/hyperliquid-capture.jsonl", import.meta.url).pathname,
      pace: { mode: "realtime", speed: 1 },
      sink: { publish: (e) => events.push(e) },
      logger: createLogger({ service: "test", level: "silent" }),
      scheduler,
      heartbeatIntervalMs: 0,
      createHandler: (_markets, replayIo) => {
        io = replayIo;
        return { handleFrame: () => undefined };
      },
    });
    await connector.start();
    await new Promise<void>((resolve) => {
      const poll = (): void => (io ? resolve() : void setTimeout(poll, 5));
      poll();
    });
    for (let i = 0; i < ERRORS_PER_SECOND + 5; i += 1) io!.error("PARSE_ERROR", `bad ${i}`, {});
    const errors = (): StandardEvent[] => events.filter((e) => e.event_type === "error");
    expect(errors()).toHaveLength(ERRORS_PER_SECOND);
    scheduler.advance(1_000);
    io!.error("PARSE_ERROR", "after", {});
    expect(errors().at(-1)!.payload).toMatchObject({ message: "after", details: { suppressed: 5 } });
    await connector.stop();
  });
});
