import {
  type Msg,
  type NatsConnection,
  type Subscription,
  createInbox,
  headers,
} from "@nats-io/transport-node";
import { MarketScraperError } from "@market-scraper/events";

/**
 * A JetStream publish the server answered with an error (`{"error":{…}}`), or no stream took
 * (`503` no responders), or no answer came in time (`408`). `code` is the HTTP-like status, `errCode`
 * JetStream's own error code when the server gave one.
 */
export class JetStreamPublishError extends MarketScraperError<number> {
  override readonly name = "JetStreamPublishError";

  constructor(
    code: number,
    message: string,
    readonly errCode?: number,
  ) {
    super(code, message);
  }

  /** No stream answered (yet), the server is busy, or the ack is late: sending again may succeed. */
  get retryable(): boolean {
    return this.code === 503 || this.code === 408;
  }
}

/** Called once per publish: without an argument when JetStream stored it, else with why not. */
export type AckCallback = (error?: unknown) => void;

interface PendingAck {
  readonly subject: string;
  readonly deadline: number;
  readonly done: AckCallback;
}

const ERROR_MARK = Buffer.from('"error"');

/**
 * JetStream publishes without a request per message: every publish carries a reply subject under one
 * wildcard inbox subscription, and acks are matched to publishes by the token at the end of the
 * subject. Timeouts are one sweep for all pending publishes (they expire in publish order), not a
 * timer each. `nats.js`'s `js.publish` costs a request object, a timer, a random token, a parsed
 * JSON ack and, on every success, an `Error` built to reject the already settled promise; at tens of
 * thousands of publishes a second that was the largest client cost of a service.
 *
 * What it keeps from `js.publish`: `Nats-Msg-Id` for de-duplication, errors for `{"error":…}` acks and
 * for no responders (`503`), a timeout (`408`), and a publish-permission refusal fails the oldest
 * pending publish to that subject (see `refusePublish`). Unlike `js.publish`, the acks a reconnect lost
 * fail at the reconnect (`reconnected`), not at their timeout.
 */
export class JetStreamAcks {
  readonly #nc: NatsConnection;
  readonly #timeoutMs: number;
  readonly #prefix: string;
  readonly #sub: Subscription;
  readonly #pending = new Map<string, PendingAck>();
  readonly #sweep: NodeJS.Timeout;
  #next = 0;
  /** Why no publish can be acknowledged any more (closed, or the ack subscription was refused). */
  #broken: unknown = undefined;

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.#nc = nc;
    this.#timeoutMs = timeoutMs;
    // Under the connection's own inbox prefix (`inboxPrefix` option; not on the interface, but on every
    // nats.js connection), as its requests are: subscribe permissions are written for it.
    const { options } = nc as NatsConnection & { options?: { inboxPrefix?: string } };
    this.#prefix = `${createInbox(options?.inboxPrefix)}.`;
    this.#sub = nc.subscribe(`${this.#prefix}*`, {
      callback: (err, msg) => {
        if (err === null) this.#onAck(msg);
        else this.refuse(err);
      },
    });
    this.#sweep = setInterval(
      () => this.#expire(performance.now()),
      Math.max(10, Math.min(1000, timeoutMs / 4)),
    );
    this.#sweep.unref();
  }

  /** Why publishes cannot be acknowledged, when they cannot (the ack subscription was refused, or closed). */
  get broken(): unknown {
    return this.#broken;
  }

  /** Publishes awaiting acks. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Sends one message to JetStream; `done` is called once, when it is stored or has failed, and never
   * before `publish` returns (a caller may publish again from `done`: a synchronous failure, such as a
   * closed connection, must not recurse through a backlog).
   */
  publish(subject: string, data: Uint8Array, msgId: string | undefined, done: AckCallback): void {
    if (this.#broken !== undefined) {
      fail(done, this.#broken);
      return;
    }
    const token = (this.#next++).toString(36);
    try {
      if (msgId === undefined) {
        this.#nc.publish(subject, data, { reply: this.#prefix + token });
      } else {
        const h = headers();
        h.set("Nats-Msg-Id", msgId);
        this.#nc.publish(subject, data, { reply: this.#prefix + token, headers: h });
      }
    } catch (err) {
      fail(done, err);
      return;
    }
    this.#pending.set(token, { subject, deadline: performance.now() + this.#timeoutMs, done });
  }

  /**
   * The server refused a publish to `subject` (permissions): that publish will never be acked. The
   * server names only the subject, so the oldest pending publish to it is failed, as `nats.js` does
   * for requests.
   */
  refusePublish(subject: string, error: unknown): void {
    for (const [token, ack] of this.#pending) {
      if (ack.subject !== subject) continue;
      this.#pending.delete(token);
      ack.done(error);
      return;
    }
  }

  /** Fails every pending publish, and every later one, with `error`; stops listening for acks. */
  close(error: unknown): void {
    this.#broken ??= error;
    clearInterval(this.#sweep);
    this.#sub.unsubscribe();
    this.#failPending(() => error);
  }

  /**
   * The server refused the ack subscription: no publish can be confirmed, so pending and later ones
   * fail with that error (permanent: they are dropped and logged, not retried forever). A permissions
   * refusal comes to the subscription itself; others (`maximum subscriptions exceeded`) only to the
   * connection's status, from where the bus reports them.
   */
  refuse(err: Error): void {
    this.#broken ??= err;
    this.#failPending(() => err);
  }

  /**
   * The connection was re-established: no publish sent before can be acknowledged any more (an ack the
   * server sent went to the old connection, and what the client still held unsent was dropped with its
   * buffer). Each is failed now with a retryable 408, rather than at its timeout. Returns how many.
   */
  reconnected(): number {
    return this.#failPending(
      (ack) =>
        new JetStreamPublishError(
          408,
          `no JetStream ack for ${ack.subject}: the connection to NATS was re-established`,
        ),
    );
  }

  #failPending(errorOf: (ack: PendingAck) => unknown): number {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const ack of pending) ack.done(errorOf(ack));
    return pending.length;
  }

  #onAck(msg: Msg): void {
    const token = msg.subject.slice(this.#prefix.length);
    const ack = this.#pending.get(token);
    if (ack === undefined) return; // expired already, or not ours
    this.#pending.delete(token);
    const error = ackError(msg, ack.subject);
    if (error === undefined) ack.done();
    else ack.done(error);
  }

  #expire(now: number): void {
    // Deadlines grow with insertion order, so the expired ones are a prefix of the map.
    for (const [token, ack] of this.#pending) {
      if (ack.deadline > now) return;
      this.#pending.delete(token);
      ack.done(
        new JetStreamPublishError(408, `no JetStream ack for ${ack.subject} in ${this.#timeoutMs} ms`),
      );
    }
  }
}

/** `undefined` for a stored message's ack, else the error it carries. */
function ackError(msg: Msg, subject: string): JetStreamPublishError | undefined {
  const h = msg.headers;
  if (h !== undefined && h.hasError) {
    return new JetStreamPublishError(
      h.code,
      h.code === 503
        ? `no JetStream stream answered for ${subject}`
        : `JetStream refused the publish to ${subject}: ${h.code} ${h.description}`,
    );
  }
  const data = msg.data;
  // A success ack is `{"stream":…,"seq":…}`: only an error ack carries an `"error"` key.
  if (Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf(ERROR_MARK) === -1) return undefined;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(data)) as {
      error?: { code?: number; err_code?: number; description?: string };
    };
    if (parsed.error === undefined) return undefined;
    return new JetStreamPublishError(
      parsed.error.code ?? 500,
      `JetStream refused the publish to ${subject}: ${parsed.error.description ?? "unknown error"}`,
      parsed.error.err_code,
    );
  } catch {
    return new JetStreamPublishError(500, `JetStream sent an unreadable ack for ${subject}`);
  }
}

/** Calls `done(error)` on a later microtask: never from inside the `publish` that failed. */
function fail(done: AckCallback, error: unknown): void {
  queueMicrotask(() => done(error));
}
