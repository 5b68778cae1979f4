import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type NatsEventBus } from "@market-scraper/bus";
import { type StandardEvent, decodeEvent } from "@market-scraper/events";
import { freePort, makeTrade, waitFor } from "@market-scraper/testkit";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** A `dist/main.js` child process (the service as deployed). */
export class ServiceProcess {
  readonly child: ChildProcess;
  readonly port: number;
  output = "";
  readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess, port: number) {
    this.child = child;
    this.port = port;
    child.stdout?.on("data", (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  static async start(env: Record<string, string>): Promise<ServiceProcess> {
    if (!existsSync(MAIN)) {
      throw new Error(
        `${MAIN} is missing: run \`pnpm --filter "@market-scraper/processor-service..." build\` first`,
      );
    }
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env["PATH"] ?? "", LOG_LEVEL: "warn", HTTP_PORT: String(port), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const service = new ServiceProcess(child, port);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${service.output}`);
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        return res.ok;
      },
      { timeoutMs: 20_000, message: "processor-service ready" },
    );
    return service;
  }

  kill9(): Promise<number | null> {
    this.child.kill("SIGKILL");
    return this.exited;
  }

  async terminate(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    return this.exited;
  }
}

/** The same trades for every scenario: several symbols and sources, repeats, out-of-order and late ones. */
export function recordedTrades(): StandardEvent[] {
  const trades: StandardEvent[] = [];
  const symbols = ["BTC-USD", "ETH-USD", "SOL-USD", "PURR/USDC", "DOGE-USD", "ARB-USD"];
  const start = Date.parse("2024-01-15T10:00:00.000Z");
  for (let i = 0; i < 400; i++) {
    for (const [k, symbol] of symbols.entries()) {
      const source = k % 2 === 0 ? "hyperliquid" : "binance";
      // 2.5 s apart (every 24th exactly on a minute edge for half the symbols); every 10th delivered
      // 1.5-6.5 s late: mostly within the 1 s allowance of its bucket, sometimes after it closed.
      let time = start + i * 2500 + (k % 2) * 7;
      if (i % 10 === 4) time -= 1500 + (i % 3) * 2500;
      const trade = makeTrade({
        source,
        symbol,
        timestamp: new Date(time),
        payload: {
          trade_id: `${symbol}-${i}`,
          price: 100 + k * 10 + ((i * 7) % 13) * 0.01,
          volume: Math.round(((i % 9) + 1) * 0.013 * 1000) / 1000,
        },
      });
      trades.push(trade);
      // A connector re-sending the same trade after a reconnect (same trade_id, new event id).
      if (i % 50 === 7)
        trades.push(makeTrade({ source, symbol, timestamp: new Date(time), payload: { ...trade.payload } }));
    }
  }
  return trades;
}

export async function publishAll(bus: NatsEventBus, events: readonly StandardEvent[]): Promise<void> {
  for (const e of events) await bus.publish(e);
  await bus.flush();
}

/** Every event stored in the PROCESSED stream under `filter` (in stream order, duplicates kept). */
export function readProcessed(nc: NatsConnection, filter: string): Promise<StandardEvent[]> {
  return readStream(nc, "PROCESSED", filter);
}

/** Every event stored in `stream` under `filter` (in stream order, duplicates kept). */
export async function readStream(
  nc: NatsConnection,
  stream: string,
  filter: string,
): Promise<StandardEvent[]> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(stream, { filter_subjects: filter });
  const info = await consumer.info();
  if (info.num_pending === 0) {
    await consumer.delete().catch(() => undefined);
    return [];
  }
  const out: StandardEvent[] = [];
  const messages = await consumer.consume({ max_messages: 1000 });
  for await (const m of messages) {
    out.push(decodeEvent(m.data));
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return out;
}

export async function lastMarketSeq(nc: NatsConnection): Promise<number> {
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info("MARKET")).state.last_seq;
}

/** The checkpointed stream position of a partition (`p0of2`…), from the KV bucket. */
export async function checkpointPosition(
  nc: NatsConnection,
  partition: string,
  group = "processor",
): Promise<number> {
  const kv = await new Kvm(nc).open("processor_checkpoints");
  const entry = await kv.get(`${group}.pos.${partition}`);
  return entry && entry.length > 0 ? Number(entry.string()) : 0;
}

export function candleKey(e: StandardEvent): string {
  if (e.event_type !== "ohlcv") throw new Error("not a candle");
  const p = e.payload;
  return JSON.stringify([
    e.event_id,
    e.source,
    p.symbol,
    p.interval,
    p.timestamp,
    p.open,
    p.high,
    p.low,
    p.close,
    p.volume,
    p.trades,
    p.closed,
  ]);
}
