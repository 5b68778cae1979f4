import { type ConnectorMetrics, noopConnectorMetrics } from "../framework/connector-metrics.js";
import { ConnectorError } from "../framework/connector-error.js";
import { ReplayConnector, type ReplayConnectorOptions } from "../framework/replay-connector.js";
import { HyperliquidFeed } from "./hyperliquid-feed.js";
import type { HyperliquidMarket } from "./hyperliquid-symbols.js";

function isMarket(value: unknown): value is HyperliquidMarket {
  const m = value as Partial<HyperliquidMarket> | null;
  return (
    typeof m === "object" &&
    m !== null &&
    typeof m.coin === "string" &&
    typeof m.symbol === "string" &&
    (m.kind === "perp" || m.kind === "spot")
  );
}

export type HyperliquidReplayOptions = Omit<ReplayConnectorOptions, "createHandler" | "name"> & {
  /** `source` of the replayed events; default `hyperliquid` (they look like the live ones). */
  name?: string;
  metrics?: ConnectorMetrics;
  dedupCapacity?: number;
};

/** A `ReplayConnector` for Hyperliquid captures: frames go through the live connector's `HyperliquidFeed`. */
export function createHyperliquidReplay(options: HyperliquidReplayOptions): ReplayConnector {
  const name = options.name ?? "hyperliquid";
  return new ReplayConnector({
    ...options,
    name,
    createHandler: (markets, io) => {
      if (!markets.every(isMarket))
        throw new ConnectorError("PARSE_ERROR", "capture markets record is malformed");
      return new HyperliquidFeed({
        source: name,
        markets,
        metrics: options.metrics ?? noopConnectorMetrics,
        ...(options.dedupCapacity === undefined ? {} : { dedupCapacity: options.dedupCapacity }),
        hooks: {
          publish: (event) => io.publish(event),
          error: (code, message, details) => io.error(code, message, details),
        },
      });
    },
  });
}
