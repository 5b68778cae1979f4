import type { BusMetrics } from "@market-scraper/bus";
import { collectDefaultMetrics, Counter, Registry } from "prom-client";

export type { Registry } from "prom-client";

export interface CreateMetricsRegistryOptions {
  /** Added as the label `service` to every metric of the registry. */
  service: string;
  /** Process metrics (CPU, memory, event-loop lag, GC…); default true. */
  collectDefault?: boolean;
}

/** A Prometheus registry of its own (never the global one), labelled with the service. */
export function createMetricsRegistry(options: CreateMetricsRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.collectDefault ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** The counters of `BusMetrics` (@market-scraper/bus), each with its help text. */
export const BUS_COUNTERS = {
  published: "Events accepted by publish (and raw messages by publishRaw)",
  delivered: "Handler calls that completed",
  failed: "Handler calls that threw (each attempt counts)",
  dead_lettered: "Messages sent to deadletter subjects",
  malformed: "Messages received that were not valid events",
  dropped: "Messages given up without delivery",
} as const satisfies Record<keyof BusMetrics, string>;

export type BusCounter = keyof BusMetrics;

/** What the runtime needs of an `EventBus` (any bus fits): its counters. */
export interface BusMetricsSource {
  metrics(): Readonly<Record<BusCounter, number>>;
}

/**
 * Exposes the bus counters as `market_scraper_bus_<counter>_total`, read from `bus.metrics()` at
 * scrape time. Call once per registry.
 */
export function registerBusMetrics(registry: Registry, bus: BusMetricsSource): void {
  for (const key of Object.keys(BUS_COUNTERS) as BusCounter[]) {
    let last = 0;
    new Counter({
      name: `market_scraper_bus_${key}_total`,
      help: BUS_COUNTERS[key],
      registers: [registry],
      collect() {
        const current = bus.metrics()[key];
        // A smaller snapshot means the bus was reset or replaced: count on from zero so that the
        // exported counter never goes down.
        const delta = current >= last ? current - last : current;
        last = current;
        if (delta > 0) this.inc(delta);
      },
    });
  }
}
