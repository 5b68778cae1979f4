import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { StandardEvent } from "@market-scraper/events";
import { freePort } from "@market-scraper/testkit";
import { type NatsConnection, connect } from "@nats-io/transport-node";

// What the end-to-end tests of the connector service share: the built service (dist/main.js) as a child
// process, and a NATS client watching market.> and system.> as any consumer would.

export const serviceDir = join(dirname(fileURLToPath(import.meta.url)), "..");
export const mainJs = join(serviceDir, "dist", "main.js");

export interface Seen {
  subject: string;
  event: StandardEvent;
}

/** `order_book` payload fields the tests read. */
export interface BookPayload {
  symbol: string;
  raw_symbol: string;
  sequence: number;
  bids: [number, number][];
  asks: [number, number][];
}

/** Every event seen on the watched subjects, in arrival order, with the queries the tests make. */
export class SeenEvents {
  readonly all: Seen[] = [];

  /** Events of a type from a source (and a symbol, when given). */
  where(type: string, source: string, symbol?: string): Seen[] {
    return this.all.filter(
      (s) =>
        s.event.event_type === type &&
        s.event.source === source &&
        (symbol === undefined || (s.event.payload as { symbol?: string }).symbol === symbol),
    );
  }

  /** `error` events with this `error_code`. */
  errors(code: string, source: string): StandardEvent[] {
    return this.where("error", source)
      .map((s) => s.event)
      .filter((e) => (e.payload as { error_code: string }).error_code === code);
  }

  /** The `details` of the `BOOK_RESYNC` errors of a source. */
  resyncs(source: string): { symbol: string; raw_symbol: string; reason: string }[] {
    return this.errors("BOOK_RESYNC", source).map(
      (e) =>
        (e.payload as unknown as { details: { symbol: string; raw_symbol: string; reason: string } }).details,
    );
  }

  /** The connector-wide states of a source (`connector_status` without a channel), in order. */
  status(source: string): string[] {
    return this.where("connector_status", source)
      .map((s) => s.event.payload as { status: string; channel?: string })
      .filter((p) => p.channel === undefined)
      .map((p) => p.status);
  }

  /** The states of one symbol on a channel (`connector_status` with `channel` and `symbols: [symbol]`). */
  symbolStatus(source: string, channel: string, symbol: string): string[] {
    return this.where("connector_status", source)
      .map((s) => s.event.payload as { channel?: string; symbols?: string[]; status: string })
      .filter((p) => p.channel === channel && p.symbols?.[0] === symbol)
      .map((p) => p.status);
  }

  /** The `order_book` payloads of one instrument. */
  books(source: string, symbol: string): BookPayload[] {
    return this.where("order_book", source, symbol).map((s) => s.event.payload as unknown as BookPayload);
  }
}

/** Connects to NATS and records every event published on `subjects` (parsed: a bad one fails the test). */
export async function watchEvents(
  url: string,
  subjects: readonly string[] = ["market.>", "system.>"],
): Promise<{ nc: NatsConnection; seen: SeenEvents }> {
  const nc = await connect({ servers: url });
  const seen = new SeenEvents();
  for (const subject of subjects) {
    nc.subscribe(subject, {
      callback: (_err, msg) => {
        seen.all.push({ subject: msg.subject, event: StandardEvent.parse(JSON.parse(msg.string())) });
      },
    });
  }
  await nc.flush();
  return { nc, seen };
}

/**
 * Starts `dist/main.js` with only `PATH`, `NATS_URL`, a free `HTTP_PORT`, `LOG_LEVEL=warn` and `env`
 * (which may override them); its stderr goes to the test's.
 */
export async function spawnConnectorService(
  natsUrl: string,
  env: Record<string, string>,
): Promise<ChildProcess> {
  if (!existsSync(mainJs)) throw new Error(`${mainJs} missing: run pnpm build first`);
  return spawn(process.execPath, [mainJs], {
    cwd: serviceDir,
    env: {
      PATH: process.env.PATH ?? "",
      NATS_URL: natsUrl,
      HTTP_PORT: String(await freePort()),
      LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** Stops a child started by `spawnConnectorService`, if it still runs. */
export function killService(child: ChildProcess | undefined): void {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/**
 * A decimal as the exchange wrote it (`"30000.50000000"`), in the shortest form a JSON number of the same
 * value prints as (`"30000.5"`): published levels are numbers, so this is how their exact text is compared.
 */
export function decimalText(text: string): string {
  let [whole = "0", fraction = ""] = text.split(".");
  whole = whole.replace(/^0+(?=\d)/, "");
  fraction = fraction.replace(/0+$/, "");
  return fraction === "" ? whole : `${whole}.${fraction}`;
}
