import { MarketScraperError } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { BusError } from "./errors.js";
import { JetStreamPublishError } from "./jetstream-acks.js";

describe("bus errors", () => {
  it("share the project's error base, with their codes and shapes", () => {
    const cause = new Error("no responders");
    const bus = new BusError("PUBLISH_FAILED", "publish failed", { cause });
    expect(bus).toBeInstanceOf(MarketScraperError);
    expect(bus.toJSON()).toEqual({
      name: "BusError",
      code: "PUBLISH_FAILED",
      message: "publish failed",
      cause: { name: "Error", message: "no responders" },
    });
    const js = new JetStreamPublishError(503, "no JetStream stream answered", 10_077);
    expect(js).toBeInstanceOf(MarketScraperError);
    expect(js).toMatchObject({ name: "JetStreamPublishError", code: 503, errCode: 10_077, retryable: true });
    expect(new JetStreamPublishError(400, "refused").retryable).toBe(false);
  });
});
