import type { EventBus, Subscription } from "@market-scraper/bus";
import {
  type Clock,
  type EventType,
  type StandardEvent,
  EventType as Types,
  MARKET_DATA_TYPES,
  StandardEvent as Events,
  errorMessage,
  isMarketDataType,
  markProcessed,
  receivedAtOf,
} from "@market-scraper/events";
import { z } from "zod";
import { deterministicId } from "./deterministic-id.js";
import { ProcessorError } from "./processor-error.js";

/** What `process` may return: an event, several (e.g. a trade and the candles it closed), or nothing. */
export type ProcessResult = StandardEvent | readonly StandardEvent[] | null | undefined;

/** The part of a pino logger the processors use. */
export interface ProcessorLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const silent: ProcessorLogger = { warn: () => undefined, error: () => undefined };
const systemClock: Clock = { now: () => Date.now() };

export interface ProcessorOptions {
  /** Names the processor in metrics, logs and error events. Default: the class's own default. */
  name?: string;
  /** `source` of the `error` events the processor publishes. Default `processor-service`. */
  source?: string;
  clock?: Clock;
  logger?: ProcessorLogger;
  /** How `start()` subscribes: a queue `group` (stateless load sharing) or a `durable` (at-least-once). */
  group?: string;
  durable?: string;
  /** Called with every output `handle` stamps (before it is published): the service's metrics hook. */
  onOutput?: (output: StandardEvent) => void;
}

/** Counters of one processor, read by the service's `/metrics`. */
export interface ProcessorStats {
  /** Events of a declared type handed to `process`. */
  received: number;
  /** Events returned by `process` (and derived events such as candles). */
  emitted: number;
  /** `process` returned `null`: the event was filtered out. */
  dropped: number;
  /** `process` threw: the event became a `PROCESSOR_FAILED` error event. */
  failed: number;
  /** `error` events the processor returned itself (e.g. validation failures). */
  rejected: number;
}

export const DEFAULT_ERROR_SOURCE = "processor-service";

/** Builds an `error` event derived from `parent` (same correlation, `parent_event_id` = parent). */
export function errorEventFor(
  parent: StandardEvent,
  init: { source: string; code: string; message: string; details: Record<string, unknown>; id: string },
): StandardEvent {
  return Events.create({
    event_type: Types.ERROR,
    source: init.source,
    event_id: init.id,
    timestamp: parent.timestamp,
    correlation_id: parent.correlation_id ?? null,
    parent_event_id: parent.event_id,
    payload: {
      error_code: init.code,
      message: init.message,
      details: {
        event_type: parent.event_type,
        event_source: parent.source,
        ...(typeof (parent.payload as { symbol?: unknown }).symbol === "string"
          ? { symbol: (parent.payload as { symbol: string }).symbol }
          : {}),
        ...init.details,
      },
    },
  });
}

function isEventList(result: StandardEvent | readonly StandardEvent[]): result is readonly StandardEvent[] {
  return Array.isArray(result);
}

export { errorMessage };

/**
 * The seed's Processor API: subclass it, implement `process`, then `new MyProcessor(bus)` and
 * `await processor.start()`.
 *
 * ```ts
 * class MyProcessor extends Processor {
 *   override readonly eventTypes = [EventType.TRADE];
 *   async process(event: StandardEvent) { return event.payload.volume > 0 ? event : null; }
 * }
 * ```
 *
 * A processor takes the event types it declares (`eventTypes`, default: all market data) from the
 * `market` stage, and publishes what `process` returns on `processed.<type>.<source>.<symbol>` — with a
 * new id derived from the input, `parent_event_id` = the input, the same `correlation_id`, and
 * `markProcessed` — or on `system.error.<source>` for `error` events. `null` drops the event; a thrown
 * error becomes a `PROCESSOR_FAILED` error event and the processor goes on. Everything is counted in
 * `stats()`. Processors chain: a `Pipeline` runs several in-process for each consumed event.
 */
export abstract class Processor {
  readonly name: string;
  /** The event types this processor takes; events of other types pass through it unchanged. */
  readonly eventTypes: readonly EventType[] = MARKET_DATA_TYPES;
  protected readonly bus: EventBus | null;
  protected readonly clock: Clock;
  protected readonly logger: ProcessorLogger;
  protected readonly errorSource: string;
  readonly #options: ProcessorOptions;
  protected readonly counters: ProcessorStats = {
    received: 0,
    emitted: 0,
    dropped: 0,
    failed: 0,
    rejected: 0,
  };
  #subscription: Subscription | null = null;

  constructor(bus: EventBus | null = null, options: ProcessorOptions = {}) {
    this.bus = bus;
    this.#options = options;
    this.name = options.name ?? this.defaultName();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silent;
    this.errorSource = options.source ?? DEFAULT_ERROR_SOURCE;
  }

  /** Transforms one event of a declared type. */
  abstract process(event: StandardEvent): ProcessResult | Promise<ProcessResult>;

  protected defaultName(): string {
    return this.constructor.name
      .replace(/Processor$/, "")
      .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
      .toLowerCase();
  }

  accepts(event: StandardEvent): boolean {
    return this.eventTypes.includes(event.event_type);
  }

  stats(): Readonly<ProcessorStats> {
    return { ...this.counters };
  }

  /** True when the processor keeps state per (source, symbol) that must survive restarts. */
  get stateful(): boolean {
    return false;
  }

  /** The state kept for one (source, symbol), as JSON, for a checkpoint; `undefined` when none. */
  exportState(_source: string, _symbol: string): unknown {
    return undefined;
  }

  /**
   * What `exportState` returns, as a schema: a checkpoint whose state does not match it is corrupt
   * (reported, and the key starts clean) and never reaches `importState`. Default: any value.
   */
  get stateSchema(): z.ZodType {
    return z.unknown();
  }

  /**
   * Restores what `exportState` returned (after a restart, before the first event of that key);
   * `null` resets the key to no state.
   */
  importState(_source: string, _symbol: string, _state: unknown): void {}

  /**
   * Runs this processor as one stage: events it does not take pass through; `process` errors become
   * `error` events. Returns the stage's outputs, not yet stamped (see `handle`).
   */
  async apply(event: StandardEvent): Promise<StandardEvent[]> {
    if (!this.accepts(event)) return [event];
    this.counters.received++;
    let result: ProcessResult;
    try {
      const r = this.process(event);
      result = r instanceof Promise ? await r : r;
    } catch (err) {
      this.counters.failed++;
      this.logger.error({ err, processor: this.name, event_id: event.event_id }, "processor failed");
      return [
        errorEventFor(event, {
          source: this.errorSource,
          id: deterministicId("error", this.name, event.event_id),
          code: "PROCESSOR_FAILED",
          message: `${this.name}: ${errorMessage(err)}`,
          details: { processor: this.name, error: errorMessage(err) },
        }),
      ];
    }
    if (result === null || result === undefined) {
      this.counters.dropped++;
      return [];
    }
    const outputs: StandardEvent[] = isEventList(result) ? [...result] : [result];
    for (const out of outputs) {
      if (out.event_type === Types.ERROR && out !== event) this.counters.rejected++;
      else this.counters.emitted++;
    }
    if (outputs.length === 0) this.counters.dropped++;
    return outputs;
  }

  /** `apply`, then stamps every output as derived from `event` (see `deriveOutput`). */
  async handle(event: StandardEvent): Promise<StandardEvent[]> {
    const outputs = await this.apply(event);
    const now = this.clock.now();
    const receivedAt = receivedAtOf(event);
    const onOutput = this.#options.onOutput;
    return outputs.map((out) => {
      const stamped = deriveOutput(event, out, now, receivedAt);
      onOutput?.(stamped);
      return stamped;
    });
  }

  /** Subscribes to the declared types in the `market` stage and publishes the outputs. */
  async start(): Promise<void> {
    if (this.#subscription) return;
    const bus = this.bus;
    if (!bus)
      throw new ProcessorError(
        "NO_BUS",
        `${this.name}: start() needs a bus (new ${this.constructor.name}(bus))`,
      );
    const { group, durable } = this.#options;
    this.#subscription = await bus.subscribe(
      { stage: "market", event_types: this.eventTypes },
      async (event) => {
        for (const out of await this.handle(event)) await bus.publish(out);
      },
      { ...(group === undefined ? {} : { group }), ...(durable === undefined ? {} : { durable }) },
    );
  }

  /** Stops intake and waits for the event in hand. */
  async stop(): Promise<void> {
    const sub = this.#subscription;
    this.#subscription = null;
    await sub?.unsubscribe();
  }
}

/**
 * Stamps an output of processing `input`: market data gets `markProcessed` (so it goes to
 * `processed.…`), its `processing_time_ms` measured from the input's receipt by the connector
 * (`receivedAtOf(input)`: a candle's from the trade that produced it); an output that is the input
 * itself (or a modified copy with its id) gets a new id derived from the input's, so a replay re-emits
 * the same id; `parent_event_id` defaults to the input, `correlation_id` is the input's.
 */
export function deriveOutput(
  input: StandardEvent,
  out: StandardEvent,
  nowMs: number,
  receivedAt: number | undefined = receivedAtOf(input),
): StandardEvent {
  const sameId = out.event_id === input.event_id;
  const stamped: StandardEvent = {
    ...out,
    event_id: sameId ? deterministicId("processed", input.event_id) : out.event_id,
    correlation_id: input.correlation_id ?? out.correlation_id ?? null,
    parent_event_id: sameId ? input.event_id : (out.parent_event_id ?? input.event_id),
  };
  return isMarketDataType(stamped.event_type) && !stamped.processed_at
    ? markProcessed(stamped, nowMs, receivedAt)
    : stamped;
}
