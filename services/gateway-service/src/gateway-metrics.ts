import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The gateway's own Prometheus metrics (the bus counters come from runtime's `registerBusMetrics`). */
export interface GatewayMetrics {
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route">;
  readonly streamClients: Gauge<"transport">;
  readonly streamFramesSent: Counter<"transport">;
  readonly streamConflated: Counter<"transport">;
  readonly streamDisconnects: Counter<"transport" | "reason">;
  readonly streamRefused: Counter<"reason">;
  readonly streamBufferedBytes: Gauge;
  readonly authFailures: Counter<"outcome">;
  readonly liveEvents: Counter;
  readonly storageRequests: Counter<"endpoint" | "outcome">;
}

/** Values read when `/metrics` is scraped. */
export interface GatewayMetricSources {
  /** Bytes held for stream clients (the `StreamBudget`'s total). */
  streamBufferedBytes?: () => number;
}

export function createGatewayMetrics(registry: Registry, sources: GatewayMetricSources = {}): GatewayMetrics {
  const registers = [registry];
  return {
    httpRequests: new Counter({
      name: "market_scraper_gateway_http_requests_total",
      help: "HTTP requests answered, by route pattern and status",
      labelNames: ["method", "route", "status"],
      registers,
    }),
    httpDuration: new Histogram({
      name: "market_scraper_gateway_http_request_duration_seconds",
      help: "Time to answer an HTTP request (streams: until the stream started)",
      labelNames: ["method", "route"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    streamClients: new Gauge({
      name: "market_scraper_gateway_stream_clients",
      help: "Connected stream clients",
      labelNames: ["transport"],
      registers,
    }),
    streamFramesSent: new Counter({
      name: "market_scraper_gateway_stream_frames_sent_total",
      help: "Event frames handed to stream clients' sockets",
      labelNames: ["transport"],
      registers,
    }),
    streamConflated: new Counter({
      name: "market_scraper_gateway_stream_conflated_total",
      help: "Queued ticker/book frames replaced by a newer value for a slow client that opted into conflation",
      labelNames: ["transport"],
      registers,
    }),
    streamDisconnects: new Counter({
      name: "market_scraper_gateway_stream_disconnects_total",
      help: "Stream clients gone, by reason (client, slow_consumer, memory_budget, shutdown, heartbeat_timeout)",
      labelNames: ["transport", "reason"],
      registers,
    }),
    streamBufferedBytes: new Gauge({
      name: "market_scraper_gateway_stream_buffered_bytes",
      help: "Bytes held for stream clients (queued events and unflushed socket buffers), against GATEWAY_STREAM_MEMORY",
      registers,
      collect() {
        if (sources.streamBufferedBytes !== undefined) this.set(sources.streamBufferedBytes());
      },
    }),
    streamRefused: new Counter({
      name: "market_scraper_gateway_stream_refused_total",
      help: "Stream connections refused before they started, by reason (max_clients 503, max_per_address 429)",
      labelNames: ["reason"],
      registers,
    }),
    authFailures: new Counter({
      name: "market_scraper_gateway_auth_failures_total",
      help: "Failed authentications on /v1 (missing or wrong API key), by outcome (refused 401/403, throttled 429)",
      labelNames: ["outcome"],
      registers,
    }),
    liveEvents: new Counter({
      name: "market_scraper_gateway_live_events_total",
      help: "Events received from the bus for the live streams",
      registers,
    }),
    storageRequests: new Counter({
      name: "market_scraper_gateway_storage_requests_total",
      help: "Storage queries over NATS, by endpoint and outcome (ok or an error code)",
      labelNames: ["endpoint", "outcome"],
      registers,
    }),
  };
}
