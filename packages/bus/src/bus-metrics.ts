import type { BusMetrics } from "./event-bus.js";

export function createBusMetrics(): BusMetrics {
  return { published: 0, delivered: 0, failed: 0, dead_lettered: 0, malformed: 0, dropped: 0 };
}
