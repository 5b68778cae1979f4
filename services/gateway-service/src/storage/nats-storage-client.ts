import { STORAGE_SUBJECTS, StorageErrorReply } from "@market-scraper/events";
import { type NatsConnection, errors } from "@nats-io/transport-node";
import type { z } from "zod";
import { EndpointStorageClient, StorageClientError, type StorageEndpoint } from "./storage-client.js";

export interface NatsStorageClientOptions {
  /** The connection, or a getter for one that may not exist yet (throws until connected). */
  connection: NatsConnection | (() => NatsConnection);
  /** Per request. Default 5000 ms. */
  timeoutMs?: number;
}

const encoder = new TextEncoder();

/** Request/reply on `storage.*`; replies are validated with the zod schemas of `@market-scraper/events`. */
export class NatsStorageClient extends EndpointStorageClient {
  readonly #connection: () => NatsConnection;
  readonly #timeoutMs: number;

  constructor(options: NatsStorageClientOptions) {
    super();
    const connection = options.connection;
    this.#connection = typeof connection === "function" ? connection : () => connection;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  protected override async query<S extends z.ZodType>(
    endpoint: StorageEndpoint,
    body: unknown,
    schema: S,
  ): Promise<z.output<S>> {
    const subject = STORAGE_SUBJECTS[endpoint];
    let nc: NatsConnection;
    try {
      nc = this.#connection();
    } catch (cause) {
      throw new StorageClientError("DISCONNECTED", "not connected to NATS", { cause });
    }
    if (nc.isClosed()) throw new StorageClientError("DISCONNECTED", "the NATS connection is closed");

    let text: string;
    try {
      const msg = await nc.request(subject, encoder.encode(JSON.stringify(body)), {
        timeout: this.#timeoutMs,
      });
      text = msg.string();
    } catch (cause) {
      throw requestFailure(subject, cause, this.#timeoutMs);
    }

    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new StorageClientError("BAD_REPLY", `${subject} answered with invalid JSON`, { cause });
    }
    const failed = StorageErrorReply.safeParse(value);
    if (failed.success) {
      const { code, message } = failed.data.error;
      throw new StorageClientError(code, message);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined ? "" : ` at ${issue.path.join(".") || "(root)"}: ${issue.message}`;
      throw new StorageClientError("BAD_REPLY", `${subject} answered with an unexpected shape${where}`, {
        cause: parsed.error,
      });
    }
    return parsed.data;
  }
}

function requestFailure(subject: string, cause: unknown, timeoutMs: number): StorageClientError {
  const noResponders =
    cause instanceof errors.NoRespondersError ||
    (cause instanceof errors.RequestError && cause.isNoResponders());
  if (noResponders)
    return new StorageClientError("NO_RESPONDERS", `no storage service answers ${subject}`, { cause });
  if (
    cause instanceof errors.TimeoutError ||
    (cause instanceof Error && cause.cause instanceof errors.TimeoutError)
  ) {
    return new StorageClientError("TIMEOUT", `${subject} did not answer within ${timeoutMs} ms`, { cause });
  }
  if (cause instanceof errors.ClosedConnectionError || cause instanceof errors.DrainingConnectionError) {
    return new StorageClientError("DISCONNECTED", "the NATS connection is closing", { cause });
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return new StorageClientError("UNAVAILABLE", `${subject} failed: ${message}`, { cause });
}
