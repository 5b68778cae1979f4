import { MarketScraperError } from "@market-scraper/events";
import { describe, expect, it } from "vitest";
import { QueryError } from "./query/storage-queries.js";
import { StoreError, postgresStoreError } from "./store/store-error.js";

describe("storage errors", () => {
  it("share the project's error base, with their codes and shapes", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
      code: "ECONNREFUSED",
      syscall: "connect",
    });
    const store = postgresStoreError(refused);
    expect(store).toBeInstanceOf(StoreError);
    expect(store).toBeInstanceOf(MarketScraperError);
    expect(store.toJSON()).toEqual({
      name: "StoreError",
      code: "UNAVAILABLE",
      message: "database unavailable: connect ECONNREFUSED 127.0.0.1:5432",
      cause: { name: "Error", code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:5432" },
    });
    const query = new QueryError("BAD_REQUEST", "bad cursor", { cause: store });
    expect(query).toBeInstanceOf(MarketScraperError);
    expect(query.code).toBe("BAD_REQUEST");
  });
});
