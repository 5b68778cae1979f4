import { MarketScraperError } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { TestkitError } from "./testkit-error.js";

describe("TestkitError", () => {
  it("shares the project's error base", () => {
    const err = new TestkitError("WAIT_TIMEOUT", "timed out", { cause: new Error("last probe") });
    expect(err).toBeInstanceOf(MarketScraperError);
    expect(err.toJSON()).toEqual({
      name: "TestkitError",
      code: "WAIT_TIMEOUT",
      message: "timed out",
      cause: { name: "Error", message: "last probe" },
    });
  });
});
