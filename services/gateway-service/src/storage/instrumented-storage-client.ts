import type { Counter } from "prom-client";
import { type StorageClient, StorageClientError } from "./storage-client.js";

/** Counts every storage query by endpoint and outcome (`ok` or the error code); behaviour unchanged. */
export function instrumentStorageClient(
  client: StorageClient,
  counter: Counter<"endpoint" | "outcome">,
): StorageClient {
  async function observe<T>(endpoint: string, call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      counter.inc({ endpoint, outcome: "ok" });
      return result;
    } catch (error) {
      counter.inc({ endpoint, outcome: error instanceof StorageClientError ? error.code : "INTERNAL" });
      throw error;
    }
  }
  return {
    events: (query) => observe("events", () => client.events(query)),
    latest: (query) => observe("latest", () => client.latest(query)),
    candles: (query) => observe("candles", () => client.candles(query)),
    markets: (query) => observe("markets", () => client.markets(query)),
    stats: () => observe("stats", () => client.stats()),
  };
}
