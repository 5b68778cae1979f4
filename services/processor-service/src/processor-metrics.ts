import type { Registry } from "@market-scraper/runtime";
import { Counter, Gauge, Histogram } from "prom-client";
import type { ConsumerStats } from "./partitioned-consumer.js";
import type { ProcessorStats } from "./processor.js";
import type { ProcessedAgeObserver } from "./service.js";

export interface ProcessorMetricsSource {
  processorStats(): ReadonlyMap<string, Readonly<ProcessorStats>>;
  lateTrades(): ReadonlyMap<string, number>;
  consumerStats(): Readonly<ConsumerStats> | null;
  onProcessedAge?(observer: ProcessedAgeObserver): void;
  corruptCheckpoints?(): ReadonlyMap<string, number>;
}

/** Exchange → processed latency buckets, seconds: live data (ms to seconds) up to replays (days). */
export const EVENT_AGE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86_400, 604_800,
];

type Labels = Record<string, string>;

/** A Prometheus counter fed from cumulative in-process counters at scrape time (never goes down). */
function cumulativeCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  read: () => [Labels, number][],
): void {
  const last = new Map<string, number>();
  new Counter({
    name,
    help,
    labelNames: [...labelNames],
    registers: [registry],
    collect() {
      for (const [labels, value] of read()) {
        const id = JSON.stringify(labels);
        const previous = last.get(id) ?? 0;
        const delta = value >= previous ? value - previous : value;
        last.set(id, value);
        if (delta > 0) this.inc(labels, delta);
      }
    },
  });
}

const PROCESSOR_COUNTERS: Record<keyof ProcessorStats, string> = {
  received: "Events handed to a processor",
  emitted: "Events a processor returned (including derived events such as candles)",
  dropped: "Events a processor filtered out (returned null)",
  failed: "Events whose processing threw (published as PROCESSOR_FAILED error events)",
  rejected: "Error events a processor returned (e.g. VALIDATION_FAILED)",
};

const CONSUMER_COUNTERS = ["processed", "foreign", "replayed", "malformed", "checkpoints"] as const;

/** `market_scraper_processor_*` metrics, read from the service at scrape time. */
export function registerProcessorMetrics(registry: Registry, source: ProcessorMetricsSource): void {
  for (const key of Object.keys(PROCESSOR_COUNTERS) as (keyof ProcessorStats)[]) {
    cumulativeCounter(
      registry,
      `market_scraper_processor_events_${key}_total`,
      PROCESSOR_COUNTERS[key],
      ["processor"],
      () => [...source.processorStats()].map(([processor, s]) => [{ processor }, s[key]]),
    );
  }
  cumulativeCounter(
    registry,
    "market_scraper_processor_late_trades_total",
    "Trades that arrived after their candle closed (not merged), per interval",
    ["interval"],
    () => [...source.lateTrades()].map(([interval, n]) => [{ interval }, n]),
  );
  for (const key of CONSUMER_COUNTERS) {
    cumulativeCounter(
      registry,
      `market_scraper_processor_consumer_${key}_total`,
      `Partition consumer: ${key} messages (checkpoints: checkpoints saved)`,
      [],
      () => {
        const s = source.consumerStats();
        return s ? [[{}, s[key]]] : [];
      },
    );
  }
  if (source.corruptCheckpoints) {
    const read = source.corruptCheckpoints.bind(source);
    cumulativeCounter(
      registry,
      "market_scraper_processor_corrupt_checkpoints_total",
      "Checkpoints that could not be restored (reported; the symbol or partition started clean), by kind",
      ["kind"],
      () => [...read()].map(([kind, n]) => [{ kind }, n]),
    );
  }
  if (source.onProcessedAge) {
    const age = new Histogram({
      name: "market_scraper_processor_event_age_seconds",
      help: "Exchange time to processed_at of every processed market event (processed_at - timestamp)",
      labelNames: ["event_type", "source"],
      buckets: EVENT_AGE_BUCKETS,
      registers: [registry],
    });
    source.onProcessedAge((event, ageMs) =>
      age.observe({ event_type: event.event_type, source: event.source }, ageMs / 1000),
    );
  }
  new Gauge({
    name: "market_scraper_processor_consumer_lag_messages",
    help: "Messages in the MARKET stream not yet read by this partition",
    registers: [registry],
    collect() {
      this.set(source.consumerStats()?.pending ?? 0);
    },
  });
  new Gauge({
    name: "market_scraper_processor_consumer_position",
    help: "MARKET stream sequence of the last message this partition read",
    registers: [registry],
    collect() {
      this.set(source.consumerStats()?.position ?? 0);
    },
  });
}
