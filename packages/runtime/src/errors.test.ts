import { MarketScraperError } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { RuntimeError } from "./runtime-error.js";

describe("runtime errors", () => {
  it("share the project's error base, with their codes and shapes", () => {
    const runtime = new RuntimeError("NATS_CONNECT_FAILED", "cannot connect", {
      cause: new Error("refused"),
    });
    expect(runtime).toBeInstanceOf(MarketScraperError);
    expect(runtime.toJSON()).toMatchObject({ code: "NATS_CONNECT_FAILED", cause: { message: "refused" } });
    const issue = { variable: "HTTP_PORT", message: "expected a port", received: "abc" };
    const config = new ConfigError([issue]);
    expect(config).toBeInstanceOf(MarketScraperError);
    expect(config).toMatchObject({ name: "ConfigError", code: "INVALID_CONFIG", issues: [issue] });
    expect(config.message).toBe('invalid configuration:\n  HTTP_PORT: expected a port, got "abc"');
  });
});
