import { Counter, Gauge, type Registry } from "prom-client";

/** What a connector counts; the service exposes it on `/metrics`. */
export interface ConnectorMetrics {
  messageIn(connector: string, channel: string): void;
  eventOut(connector: string, eventType: string): void;
  reconnect(connector: string): void;
  gap(connector: string): void;
  parseError(connector: string, channel: string): void;
  duplicate(connector: string): void;
  rateLimited(connector: string): void;
  backfilled(connector: string, count: number): void;
  /** Reports the age of the last message per channel at scrape time. */
  watchAge(connector: string, ages: () => Record<string, number | null>): void;
  /** An order book dropped and rebuilt (`reason`: gap, checksum, crossed, stale, reconnect, …). */
  bookResync(source: string, reason: string): void;
  /** Reports the number of order books per sync state (`synced`, `waiting`, …) at scrape time. */
  watchBooks(source: string, states: () => Record<string, number>): void;
}

/** Counts nothing (tests, replay tools). */
export const noopConnectorMetrics: ConnectorMetrics = {
  messageIn: () => undefined,
  eventOut: () => undefined,
  reconnect: () => undefined,
  gap: () => undefined,
  parseError: () => undefined,
  duplicate: () => undefined,
  rateLimited: () => undefined,
  backfilled: () => undefined,
  watchAge: () => undefined,
  bookResync: () => undefined,
  watchBooks: () => undefined,
};

/** prom-client counters `market_scraper_connector_*` on the given registry. */
export function createPromConnectorMetrics(registry: Registry): ConnectorMetrics {
  const registers = [registry];
  const messagesIn = new Counter({
    name: "market_scraper_connector_messages_in_total",
    help: "Frames received from the exchange, per channel",
    labelNames: ["connector", "channel"],
    registers,
  });
  const eventsOut = new Counter({
    name: "market_scraper_connector_events_out_total",
    help: "Events handed to the bus, per event type",
    labelNames: ["connector", "event_type"],
    registers,
  });
  const reconnects = new Counter({
    name: "market_scraper_connector_reconnects_total",
    help: "WebSocket reconnections",
    labelNames: ["connector"],
    registers,
  });
  const gaps = new Counter({
    name: "market_scraper_connector_gaps_total",
    help: "Interruptions of a subscribed stream (a disconnect or stale stream while subscribed)",
    labelNames: ["connector"],
    registers,
  });
  const parseErrors = new Counter({
    name: "market_scraper_connector_parse_errors_total",
    help: "Frames or records that could not be parsed, per channel",
    labelNames: ["connector", "channel"],
    registers,
  });
  const duplicates = new Counter({
    name: "market_scraper_connector_duplicate_trades_total",
    help: "Trades dropped because they were already published (re-sent snapshots)",
    labelNames: ["connector"],
    registers,
  });
  const rateLimited = new Counter({
    name: "market_scraper_connector_rate_limited_total",
    help: "REST answers 429",
    labelNames: ["connector"],
    registers,
  });
  const backfilled = new Counter({
    name: "market_scraper_connector_backfilled_candles_total",
    help: "Candles fetched over REST after a disconnect",
    labelNames: ["connector"],
    registers,
  });
  const bookResyncs = new Counter({
    name: "market_scraper_connector_book_resyncs_total",
    help: "Order books dropped and rebuilt from a fresh snapshot, per reason (gap, checksum, crossed, stale, reconnect, snapshot_failed, invalid)",
    labelNames: ["source", "reason"],
    registers,
  });
  const bookWatchers = new Map<string, () => Record<string, number>>();
  new Gauge({
    name: "market_scraper_connector_books",
    help: "Order books per sync state (synced; waiting, backoff, fetching = being rebuilt, nothing published)",
    labelNames: ["source", "state"],
    registers,
    collect() {
      this.reset();
      for (const [source, states] of bookWatchers) {
        for (const [state, count] of Object.entries(states())) this.set({ source, state }, count);
      }
    },
  });
  const watchers = new Map<string, () => Record<string, number | null>>();
  new Gauge({
    name: "market_scraper_connector_last_message_age_seconds",
    help: "Seconds since the last frame, per channel (absent before the first)",
    labelNames: ["connector", "channel"],
    registers,
    collect() {
      this.reset();
      for (const [connector, ages] of watchers) {
        for (const [channel, age] of Object.entries(ages())) {
          if (age !== null) this.set({ connector, channel }, age / 1000);
        }
      }
    },
  });
  // Labelled children cached per label pair: `inc(labels)` hashes the label object on every call, and
  // these two run for every frame and every event.
  const inChildren = new Map<string, { inc(): void }>();
  const outChildren = new Map<string, { inc(): void }>();
  const child = (
    cache: Map<string, { inc(): void }>,
    counter: Counter<string>,
    a: string,
    b: string,
  ): { inc(): void } => {
    const key = `${a}\u0000${b}`;
    let found = cache.get(key);
    if (found === undefined) {
      found = counter.labels(a, b);
      cache.set(key, found);
    }
    return found;
  };
  return {
    messageIn: (connector, channel) => child(inChildren, messagesIn, connector, channel).inc(),
    eventOut: (connector, eventType) => child(outChildren, eventsOut, connector, eventType).inc(),
    reconnect: (connector) => reconnects.inc({ connector }),
    gap: (connector) => gaps.inc({ connector }),
    parseError: (connector, channel) => parseErrors.inc({ connector, channel }),
    duplicate: (connector) => duplicates.inc({ connector }),
    rateLimited: (connector) => rateLimited.inc({ connector }),
    backfilled: (connector, count) => backfilled.inc({ connector }, count),
    watchAge: (connector, ages) => watchers.set(connector, ages),
    bookResync: (source, reason) => bookResyncs.inc({ source, reason }),
    watchBooks: (source, states) => bookWatchers.set(source, states),
  };
}
