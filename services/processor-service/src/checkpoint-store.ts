import { createHash } from "node:crypto";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
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

  private constructor(kv: KV, group: string) {
    this.#kv = kv;
    this.#group = group;
  }

  static async open(
    nc: NatsConnection,
    options: { group: string; bucket?: string; replicas?: number },
  ): Promise<KvCheckpointStore> {
    if (!/^[-\w]+$/.test(options.group))
      throw new ProcessorError("INVALID_OPTION", `checkpoint group '${options.group}' must match [-\\w]+`);
    const kv = await new Kvm(nc).create(options.bucket ?? DEFAULT_CHECKPOINT_BUCKET, {
      history: 1,
      replicas: options.replicas ?? 1,
    });
    return new KvCheckpointStore(kv, options.group);
  }

  async loadPosition(partition: string): Promise<number | null> {
    const entry = await this.#kv.get(`${this.#group}.pos.${partition}`);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return null;
    const seq = Number(entry.string());
    return Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
  }

  async savePosition(partition: string, seq: number): Promise<void> {
    await this.#kv.put(`${this.#group}.pos.${partition}`, String(seq));
  }

  async loadKey(source: string, symbol: string): Promise<KeyCheckpoint | null> {
    const entry = await this.#kv.get(`${this.#group}.key.${keyId(source, symbol)}`);
    if (!entry || entry.operation !== "PUT" || entry.length === 0) return null;
    const value = entry.json<KeyCheckpoint>();
    return value.source === source && value.symbol === symbol ? value : null;
  }

  async saveKeys(entries: readonly KeyCheckpoint[]): Promise<void> {
    await Promise.all(
      entries.map((e) => this.#kv.put(`${this.#group}.key.${keyId(e.source, e.symbol)}`, JSON.stringify(e))),
    );
  }
}

/** In-process checkpoints (tests, and a process-local restart of a consumer). */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly positions = new Map<string, number>();
  readonly keys = new Map<string, string>();

  async loadPosition(partition: string): Promise<number | null> {
    return this.positions.get(partition) ?? null;
  }

  async savePosition(partition: string, seq: number): Promise<void> {
    this.positions.set(partition, seq);
  }

  async loadKey(source: string, symbol: string): Promise<KeyCheckpoint | null> {
    const raw = this.keys.get(keyId(source, symbol));
    return raw === undefined ? null : (JSON.parse(raw) as KeyCheckpoint);
  }

  async saveKeys(entries: readonly KeyCheckpoint[]): Promise<void> {
    for (const e of entries) this.keys.set(keyId(e.source, e.symbol), JSON.stringify(e));
  }
}
