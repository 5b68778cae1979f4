import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import type { Stage } from "@market-scraper/events";
import { nanos } from "@nats-io/transport-node";
import { errorMessage, BusError } from "./errors.js";
import { type BusLogger, silentLogger } from "./logger.js";
import { sleep } from "./retry-policy.js";

/** The JetStream streams of ARCHITECTURE §4 and the subjects each holds. */
export const STREAMS = {
  MARKET: ["market.>"],
  PROCESSED: ["processed.>"],
  SYSTEM: ["system.>", "custom.>", "deadletter.>"],
} as const;
export type StreamName = keyof typeof STREAMS;

/** The stream that holds each stage's subjects: the one place that maps stages to stream names. */
export const STAGE_STREAMS: Readonly<Record<Stage, StreamName>> = {
  market: "MARKET",
  processed: "PROCESSED",
  system: "SYSTEM",
  custom: "SYSTEM",
};

export interface StreamSettings {
  /** How long messages are kept, per stream. Defaults: MARKET 1 d, PROCESSED 1 d, SYSTEM 7 d. */
  maxAgeMs?: Partial<Record<StreamName, number>>;
  /** Replicas per stream (3 in a 3-node cluster). Default 1. */
  replicas?: number;
  storage?: "file" | "memory";
  /**
   * The streams `ensureStreams` creates and updates (the ones this process owns). Default all three;
   * `[]` for none (the streams are owned elsewhere: the process only reads and writes them).
   */
  names?: readonly StreamName[];
}

const DAY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_MAX_AGE_MS: Record<StreamName, number> = {
  MARKET: DAY_MS,
  PROCESSED: DAY_MS,
  SYSTEM: 7 * DAY_MS,
};
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

export function streamConfig(
  name: StreamName,
  settings: StreamSettings = {},
): Partial<StreamConfig> & { name: string } {
  return {
    name,
    subjects: [...STREAMS[name]],
    retention: RetentionPolicy.Limits,
    storage: settings.storage === "memory" ? StorageType.Memory : StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(settings.maxAgeMs?.[name] ?? DEFAULT_MAX_AGE_MS[name]),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: settings.replicas ?? 1,
  };
}

/**
 * Creates the streams (`settings.names`, default all), or brings the subjects, age and replicas of existing ones up to date. Safe to
 * run from many processes at once: a concurrent creation is detected and treated as success.
 */
export async function ensureStreams(jsm: JetStreamManager, settings: StreamSettings = {}): Promise<void> {
  for (const name of settings.names ?? (Object.keys(STREAMS) as StreamName[])) {
    const wanted = streamConfig(name, settings);
    const existing = await jsm.streams.info(name).catch(() => null);
    if (existing === null) {
      try {
        await jsm.streams.add(wanted);
        continue;
      } catch (err) {
        // Another replica may have created it in between; anything else is real.
        if ((await jsm.streams.info(name).catch(() => null)) === null) throw err;
        continue;
      }
    }
    const cfg = existing.config;
    const sameSubjects = [...cfg.subjects].sort().join(",") === [...wanted.subjects!].sort().join(",");
    if (!sameSubjects || cfg.max_age !== wanted.max_age || cfg.num_replicas !== wanted.num_replicas) {
      await jsm.streams.update(name, {
        subjects: wanted.subjects!,
        max_age: wanted.max_age!,
        num_replicas: wanted.num_replicas!,
      });
    }
  }
}

/**
 * Runs `step` (setting up a consumer of a stream this process does not own) again until it stops failing
 * because the stream does not exist yet: the stream's owner (`NATS_STREAMS`) may start after us. Any
 * other failure is thrown. Logs once while it waits. `stopped` (the caller is stopping or closed) ends
 * the wait with `BUS_CLOSED`, so a stop during start-up leaves nothing polling.
 */
export async function whenStreamExists<T>(
  stream: string,
  step: () => Promise<T>,
  options: { logger?: Pick<BusLogger, "warn">; pollMs?: number; stopped?: () => boolean } = {},
): Promise<T> {
  let waiting = false;
  for (;;) {
    if (options.stopped?.() === true) {
      throw new BusError("BUS_CLOSED", `stopped while waiting for stream ${stream}`);
    }
    try {
      return await step();
    } catch (err) {
      const missing =
        (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) ||
        /stream not found/i.test(errorMessage(err));
      if (!missing) throw err;
      if (!waiting) {
        (options.logger ?? silentLogger).warn({ stream }, "stream not created yet: waiting for its owner");
        waiting = true;
      }
      await sleep(options.pollMs ?? 1000);
    }
  }
}
