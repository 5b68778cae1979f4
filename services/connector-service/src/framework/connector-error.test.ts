import { MarketScraperError } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { ConnectorError } from "./connector-error.js";

describe("ConnectorError", () => {
  it("shares the project's error base", () => {
    const err = new ConnectorError("REST_FAILED", "POST /info failed", { cause: new Error("fetch failed") });
    expect(err).toBeInstanceOf(MarketScraperError);
    expect(err.toJSON()).toEqual({
      name: "ConnectorError",
      code: "REST_FAILED",
      message: "POST /info failed",
      cause: { name: "Error", message: "fetch failed" },
    });
  });
});
