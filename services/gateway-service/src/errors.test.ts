import { MarketScraperError } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { GatewayError } from "./http/gateway-error.js";
import { StorageClientError } from "./storage/storage-client.js";

describe("gateway errors", () => {
  it("share the project's error base, with their codes and shapes", () => {
    const storage = new StorageClientError("TIMEOUT", "storage did not answer");
    const gateway = new GatewayError("STORAGE_UNAVAILABLE", "storage is down", {
      cause: storage,
      headers: { "Retry-After": "1" },
    });
    expect(storage).toBeInstanceOf(MarketScraperError);
    expect(gateway).toBeInstanceOf(MarketScraperError);
    expect(gateway).toMatchObject({ status: 503, headers: { "Retry-After": "1" } });
    expect(gateway.toBody()).toEqual({ error: { code: "STORAGE_UNAVAILABLE", message: "storage is down" } });
    expect(gateway.toJSON().cause).toEqual({
      name: "StorageClientError",
      code: "TIMEOUT",
      message: "storage did not answer",
    });
  });
});
