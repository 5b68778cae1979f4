import { StorageErrorCode } from "@market-scraper/events";
import type { z } from "zod";
import { EndpointStorageClient, StorageClientError, type StorageEndpoint } from "./storage-client.js";

/**
 * Runs one storage query in process: `(name, request) => reply body`, throwing an error whose `code`
 * is a `StorageErrorCode` (`BAD_REQUEST`, `NOT_FOUND`, `UNAVAILABLE`, `INTERNAL`) on failure; any other
 * error is `INTERNAL` (502). Build it on the storage service's `StorageQueries#handle` (throwing its
 * `error`), which maps store errors as the NATS endpoints do: `#run` throws them unmapped.
 */
export type StorageQueryRunner = (name: StorageEndpoint, request: unknown) => Promise<unknown>;

/**
 * A `StorageClient` without NATS, for `standalone` (everything in one process over MemoryEventBus):
 * replies are validated with the same schemas as over NATS, and failures become `StorageClientError`s.
 */
export class LocalStorageClient extends EndpointStorageClient {
  readonly #run: StorageQueryRunner;

  constructor(run: StorageQueryRunner) {
    super();
    this.#run = run;
  }

  protected override async query<S extends z.ZodType>(
    name: StorageEndpoint,
    request: unknown,
    schema: S,
  ): Promise<z.output<S>> {
    let body: unknown;
    try {
      body = await this.#run(name, request);
    } catch (error) {
      const code = StorageErrorCode.safeParse((error as { code?: unknown } | null)?.code);
      const message = error instanceof Error ? error.message : String(error);
      throw new StorageClientError(code.success ? code.data : "INTERNAL", message, { cause: error });
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new StorageClientError("BAD_REPLY", `storage.${name} returned an unexpected shape`, {
        cause: parsed.error,
      });
    }
    return parsed.data;
  }
}
