import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StandardEvent } from "@market-scraper/events";
import { waitFor } from "@market-scraper/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { getJson } from "./support/http.js";
import { type RunningProcess, spawnProcess, spawnService } from "./support/processes.js";
import { StreamClient } from "@market-scraper/testkit";

// The project's main job as a newcomer runs it: `pnpm start` at the root (build + standalone), replaying
// the sample capture that ships with the repository, since there is no exchange access here.

const SAMPLE = "services/standalone/fixtures/sample-capture.jsonl";
const dir = mkdtempSync(join(tmpdir(), "e2e-main-job-"));
const processes: RunningProcess[] = [];

afterAll(async () => {
  for (const p of processes) await p.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("pnpm start (the README's quick start) with a replay file", () => {
  it("serves the live page, /v1 history and the live stream, and stops cleanly", async () => {
    const db = join(dir, "market-scraper.db");
    const app = await spawnProcess("pnpm start", "pnpm", ["start"], {
      REPLAY_FILE: SAMPLE,
      DATABASE_URL: `sqlite:${db}`,
      LOG_LEVEL: "info",
    });
    processes.push(app);
    await app.ready(120_000); // includes the (cached) build

    const page = await fetch(`${app.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>market-scraper · live</title>");

    const client = await StreamClient.open(`${app.url.replace("http", "ws")}/v1/stream`);
    await client.subscribe({ event_types: ["trade"], symbols: ["BTC-USD", "ETH-USD"] });

    const markets = await waitFor(
      async () => {
        const body = await getJson<{ data: { symbol: string }[] }>(`${app.url}/v1/markets`);
        return body.data.length === 2 ? body.data.map((m) => m.symbol) : undefined;
      },
      { timeoutMs: 20_000, message: "both markets stored" },
    );
    expect(markets).toEqual(["BTC-USD", "ETH-USD"]);
    const trades = await waitFor(
      async () => {
        const body = await getJson<{ data: StandardEvent[] }>(`${app.url}/v1/markets/ETH-USD/trades`);
        return body.data.length > 0 ? body.data : undefined;
      },
      { timeoutMs: 20_000, message: "stored ETH trades" },
    );
    expect(trades[0]).toMatchObject({ event_type: "trade", source: "hyperliquid" });
    expect(trades[0]!.processed_at).not.toBeNull();

    // The replay runs at the capture's own pace: the stream carries trades as they are replayed.
    await waitFor(() => client.events().length >= 2, { timeoutMs: 20_000, message: "live trades" });
    expect(client.events().every((e) => e.event_type === "trade" && e.processed_at !== null)).toBe(true);
    client.close();

    // SIGTERM to the process group: pnpm gives up at once, the node process stops in order.
    await app.stop();
    await waitFor(() => app.output().includes('"msg":"standalone stopped"'), {
      message: "the orderly stop of standalone",
    });
    expect(existsSync(db)).toBe(true);
  });

  it("exits 78 naming each bad variable", async () => {
    const app = await spawnService("standalone", {
      EVENT_BUS: "kafka",
      HYPERLIQUID_SYMBOLS: " , ",
      STORAGE_FLUSH_MS: "soon",
    });
    processes.push(app);
    expect(await app.exited).toBe(78);
    const lines = app.output().trim().split("\n");
    expect(lines).toEqual([
      'config error: EVENT_BUS: expected memory or nats, got "kafka"',
      expect.stringMatching(/^config error: HYPERLIQUID_SYMBOLS: expected at least one symbol/),
      expect.stringMatching(/^config error: STORAGE_FLUSH_MS: expected a duration/),
    ]);
  });
});
