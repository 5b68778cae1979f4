import { createHash } from "node:crypto";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { ProcessorError } from "./processor-error.js";

/** The checkpoint of one (source, symbol): the last stream sequence applied to it and its state then. */
export interface KeyCheckpoint {
  source: string;
  symbol: string;
  seq: number;
  state: unknown;
}

/**
 * Where a partitioned consumer keeps its progress: a stream position per partition and, per
 * (source, symbol), the state of the stateful processors with the sequence it reflects.
 */
export interface CheckpointStore {
  loadPosition(partition: string): Promise<number | null>;
  savePosition(partition: string, seq: number): Promise<void>;
  loadKey(source: string, symbol: string): Promise<KeyCheckpoint | null>;
  saveKeys(entries: readonly KeyCheckpoint[]): Promise<void>;
}

export const DEFAULT_CHECKPOINT_BUCKET = "processor_checkpoints";

/** A saved checkpoint that could not be restored: what it was, and why (`error.cause`: the parse error). */
export interface CorruptCheckpoint {
  /** A (source, symbol)'s state, or a partition's stream position. */
  readonly kind: "key" | "position";
  /** Where it is stored (the KV key). */
  readonly key: string;
  readonly source?: string;
  readonly symbol?: string;
  readonly partition?: string;
  /** `CORRUPT_CHECKPOINT`, with the JSON or schema error as `cause`. */
  readonly error: ProcessorError;
}

export interface CheckpointValidation {
  /**
   * The schema of the processor's state (`Processor.stateSchema`): a checkpoint whose state does not
   * match is corrupt. Default: any state.
   */
  stateSchema?: z.ZodType;
  /**
   * Told about every corrupt checkpoint, before the load answers `null` (the key, or the partition,
   * starts clean). Awaited: a report (log, metric, `error` event) is out before processing goes on.
   */
  onCorrupt?: (corrupt: CorruptCheckpoint) => void | Promise<void>;
}

const StreamSeq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** One stored key checkpoint; `state` is checked against the processor's `stateSchema`. */
const KeyCheckpointRecord = z.object({
  source: z.string(),
  symbol: z.string(),
  seq: StreamSeq,
  state: z.unknown(),
});

/**
 * Parses a stored key checkpoint (JSON text) for `source`/`symbol`, or throws `CORRUPT_CHECKPOINT`: not
 * JSON, not a checkpoint, another key's (the hash-named entry must name its key), or a state the
 * processor could not restore (for candles: NaN prices, rows of the wrong shape).
 */
export function parseKeyCheckpoint(
  text: string,
  source: string,
  symbol: string,
  stateSchema: z.ZodType = z.unknown(),
): KeyCheckpoint {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ProcessorError("CORRUPT_CHECKPOINT", `checkpoint of ${source} ${symbol} is not JSON`, {
      cause,
    });
  }
  const record = KeyCheckpointRecord.safeParse(value);
  if (!record.success) {
    throw new ProcessorError(
      "CORRUPT_CHECKPOINT",
      `checkpoint of ${source} ${symbol} is not a checkpoint: ${z.prettifyError(record.error)}`,
      { cause: record.error },
    );
  }
  if (record.data.source !== source || record.data.symbol !== symbol) {
    throw new ProcessorError(
      "CORRUPT_CHECKPOINT",
      `checkpoint of ${source} ${symbol} names ${record.data.source} ${record.data.symbol}`,
    );
  }
  const state = stateSchema.safeParse(record.data.state);
  if (!state.success) {
    throw new ProcessorError(
      "CORRUPT_CHECKPOINT",
      `checkpoint of ${source} ${symbol} holds a state that cannot be restored: ${z.prettifyError(state.error)}`,
      { cause: state.error },
    );
  }
  return { source, symbol, seq: record.data.seq, state: record.data.state };
}

/** Parses a stored partition position, or throws `CORRUPT_CHECKPOINT`. */
export function parsePosition(text: string, partition: string): number {
  const seq = StreamSeq.safeParse(/^\d+$/.test(text) ? Number(text) : Number.NaN);
  if (!seq.success) {
    throw new ProcessorError(
      "CORRUPT_CHECKPOINT",
      `position of partition ${partition} is not a stream sequence: ${JSON.stringify(text.slice(0, 64))}`,
    );
  }
  return seq.data;
}

/** Runs `parse`; a `CORRUPT_CHECKPOINT` is reported through `onCorrupt` and answers `null`. */
async function validated<T>(
  validation: CheckpointValidation,
  where: Omit<CorruptCheckpoint, "error">,
  parse: () => T,
): Promise<T | null> {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof ProcessorError) || err.code !== "CORRUPT_CHECKPOINT") throw err;
    await validation.onCorrupt?.({ ...where, error: err });
    return null;
  }
}

function keyId(source: string, symbol: string): string {
  // KV keys allow [-/=.\w] only; symbols may hold anything.
  return createHash("sha256").update(`${source}\u0000${symbol}`).digest("hex").slice(0, 40);
}

/**
 * Checkpoints in a JetStream KV bucket (works with nats-server 2.9), one value per partition position
 * (`<group>.pos.<partition>`) and one per (source, symbol) (`<group>.key.<hash>`). Keys are per symbol,
 * not per partition, so a symbol keeps its state when the partition count changes.
 */
export class KvCheckpointStore implements CheckpointStore {
  readonly #kv: KV;
  readonly #group: string;
  readonly #validation: CheckpointValidation;

  private constructor(kv: KV, group: string, validation: CheckpointValidation) {
    this.#kv = kv;
    this.#group = group;
    this.#validation = validation;
  }

  /**
   * Opens (creates) the bucket. Every checkpoint read is validated (`stateSchema`): a corrupt one is
   * reported to `onCorrupt` and read as none, so its key (or partition) starts clean.
   */
  static async open(
    nc: NatsConnection,
    options: { group: string; bucket?: string; replicas?: number } & CheckpointValidation,
  ): Promise<KvCheckpointStore> {
    if (!/^[-\w]+$/.test(options.group))
      throw new ProcessorError("INVALID_OPTION", `checkpoint group '${options.group}' must match [-\\w]+`);
    const kv = await new Kvm(nc).create(options.bucket ?? DEFAULT_CHECKPOINT_BUCKET, {
      history: 1,
      replicas: options.replicas ?? 1,
    });
    return new KvCheckpointStore(kv, options.group, options);
  }

  async loadPosition(partition: string): Promise<number | null> {
    const key = `${this.#group}.pos.${partition}`;
    const entry = await this.#kv.get(key);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return null;
    return validated(this.#validation, { kind: "position", key, partition }, () =>
      parsePosition(entry.string(), partition),
    );
  }

  async savePosition(partition: string, seq: number): Promise<void> {
    await this.#kv.put(`${this.#group}.pos.${partition}`, String(seq));
  }

  async loadKey(source: string, symbol: string): Promise<KeyCheckpoint | null> {
    const key = `${this.#group}.key.${keyId(source, symbol)}`;
    const entry = await this.#kv.get(key);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return null;
    return validated(this.#validation, { kind: "key", key, source, symbol }, () =>
      parseKeyCheckpoint(entry.string(), source, symbol, this.#validation.stateSchema),
    );
  }

  async saveKeys(entries: readonly KeyCheckpoint[]): Promise<void> {
    await Promise.all(
      entries.map((e) => this.#kv.put(`${this.#group}.key.${keyId(e.source, e.symbol)}`, JSON.stringify(e))),
    );
  }
}

/** In-process checkpoints (tests, and a process-local restart of a consumer), validated as the KV ones. */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly positions = new Map<string, number>();
  readonly keys = new Map<string, string>();
  readonly #validation: CheckpointValidation;

  constructor(validation: CheckpointValidation = {}) {
    this.#validation = validation;
  }

  async loadPosition(partition: string): Promise<number | null> {
    return this.positions.get(partition) ?? null;
  }

  async savePosition(partition: string, seq: number): Promise<void> {
    this.positions.set(partition, seq);
  }

  async loadKey(source: string, symbol: string): Promise<KeyCheckpoint | null> {
    const key = keyId(source, symbol);
    const raw = this.keys.get(key);
    if (raw === undefined) return null;
    return validated(this.#validation, { kind: "key", key, source, symbol }, () =>
      parseKeyCheckpoint(raw, source, symbol, this.#validation.stateSchema),
    );
  }

  async saveKeys(entries: readonly KeyCheckpoint[]): Promise<void> {
    for (const e of entries) this.keys.set(keyId(e.source, e.symbol), JSON.stringify(e));
  }
}
