import type { EventFilter, StandardEvent } from "@market-scraper/events";

export type EventHandler = (event: StandardEvent) => void | Promise<void>;

export interface SubscribeOptions {
  /** Subscribers with the same group share the events: each event goes to one of them (queue group). */
  group?: string;
  /**
   * A named, at-least-once subscription that survives restarts: events published while no subscriber of
   * this name runs are delivered when one starts again. All subscribers with the same name share it.
   */
  durable?: string;
}

export interface Subscription {
  /** Stops intake and waits for the handler calls in flight. A durable keeps its position. */
  unsubscribe(): Promise<void>;
  readonly filter: EventFilter;
  readonly options: SubscribeOptions;
}

/** A message no handler could take, kept with its original bytes on `deadletter.<subject>`. */
export interface DeadLetter {
  readonly subject: string;
  readonly data: Uint8Array;
  /**
   * `MALFORMED` (not a valid event), `HANDLER_FAILED` (the handler threw on every delivery) or `REJECTED`
   * (refused for good at once, e.g. a row the database will never take).
   */
  readonly reason: DeadLetterReason;
  readonly error: string;
  readonly attempts: number;
  readonly event_id?: string;
}

export type DeadLetterReason = "MALFORMED" | "HANDLER_FAILED" | "REJECTED";

/** Counters every bus keeps; exported as Prometheus metrics by the runtime. */
export interface BusMetrics {
  /** Events accepted by `publish` (and raw messages by `publishRaw`). */
  published: number;
  /** Handler calls that completed. */
  delivered: number;
  /** Handler calls that threw (each attempt counts). */
  failed: number;
  /** Messages sent to `deadletter.…`. */
  dead_lettered: number;
  /** Messages received that were not valid events. */
  malformed: number;
  /** Messages given up without delivery (an explicit overflow policy, or a dead-letter that failed). */
  dropped: number;
}

export interface EventBus {
  publish(event: StandardEvent): Promise<void>;
  subscribe(filter: EventFilter, handler: EventHandler, options?: SubscribeOptions): Promise<Subscription>;
  /** Stops intake, waits for in-flight handlers and pending publishes, then closes. */
  close(): Promise<void>;

  /** Publishes raw bytes on a subject, as another producer might: for bridges, replays and tests. */
  publishRaw(subject: string, data: Uint8Array): Promise<void>;
  /** Waits until every publish made so far has been handed to the transport (and acknowledged, where it acks). */
  flush(): Promise<void>;
  /** Observes dead letters (from any subscriber of this bus instance, and on NATS/Redis from others too). */
  onDeadLetter(listener: (letter: DeadLetter) => void): () => void;
  metrics(): Readonly<BusMetrics>;
  /** True while the bus can publish and deliver (e.g. connected to its server). */
  isReady(): boolean;
}
