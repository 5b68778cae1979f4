import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { markProcessed } from "@market-scraper/events";
import { freePort, makeTrade, waitFor } from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT, TestSocket, killWithTestProcess, metricValue } from "./helpers.js";
import type { OverloadReply, OverloadRequest } from "./overload-gateway.js";

// Issue 18 item 7: with many clients that do not read and a high event rate, the gateway's memory is
// bounded by GATEWAY_STREAM_MEMORY: the slowest clients are cut, the fast ones keep everything. The
// gateway runs in its own process so that its resident memory can be measured (peak, from /proc).

const MiB = 1024 * 1024;

/** Resident set (`VmRSS`) and its peak since the last reset (`VmHWM`), in bytes. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/** Resets the peak resident set of `pid` to its current one (Linux `clear_refs` 5). */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

interface Child {
  readonly process: ChildProcess;
  readonly port: number;
  request(message: OverloadRequest): Promise<OverloadReply>;
}

let stop: (() => void) | undefined;

afterEach(() => {
  stop?.();
  stop = undefined;
});

async function startChild(env: Record<string, string>): Promise<Child> {
  const child = spawn(
    process.execPath,
    ["--conditions=@market-scraper/source", "--import", "tsx", join("test", "overload-gateway.ts")],
    {
      cwd: join(REPO_ROOT, "services", "gateway-service"),
      env: { ...process.env, HTTP_PORT: String(await freePort()), LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  stop = killWithTestProcess(child);
  const replies: OverloadReply[] = [];
  child.on("message", (reply: OverloadReply) => replies.push(reply));
  const ready = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`the gateway child exited with ${child.exitCode}`);
      return replies.find((r) => r.type === "ready");
    },
    {
      timeoutMs: 60_000,
      message: "the gateway child to start",
    },
  );
  return {
    process: child,
    port: ready.type === "ready" ? ready.port : 0,
    async request(message) {
      const from = replies.length;
      child.send(message);
      return waitFor(() => replies.slice(from).find((r) => r.type === "published"), {
        timeoutMs: 120_000,
        message: "the publishes",
      });
    },
  };
}

describe("gateway under overload", () => {
  it("cuts the slowest clients and keeps its memory within the configured stream budget", async () => {
    // OVERLOAD_BUDGET_MIB=100000 shows the gateway without a bound (+270 MiB here, and this test fails).
    const budget = Number(process.env.OVERLOAD_BUDGET_MIB ?? 4) * MiB;
    const slowClients = Number(process.env.OVERLOAD_SLOW_CLIENTS ?? 300);
    const fastClients = 4;
    const events = 20_000;
    const child = await startChild({ GATEWAY_STREAM_MEMORY: String(budget) });
    const pid = child.process.pid!;
    const gatewayUrl = `http://127.0.0.1:${child.port}`;
    const url = `ws://127.0.0.1:${child.port}/v1/stream`;
    const subscribe = async () => {
      const socket = await TestSocket.open(url);
      await socket.request({ action: "subscribe", event_types: ["trade"] }, "subscribed");
      return socket;
    };
    const fast = await Promise.all(Array.from({ length: fastClients }, subscribe));
    const slow: TestSocket[] = [];
    for (let i = 0; i < slowClients; i += 50) {
      slow.push(...(await Promise.all(Array.from({ length: Math.min(50, slowClients - i) }, subscribe))));
    }
    for (const socket of slow) socket.tcp!.pause(); // they stop reading: the gateway's buffers fill
    try {
      const before = memoryOf(pid);
      resetPeak(pid);
      const pad = Number(process.env.OVERLOAD_PAD ?? 200); // trade_id length: the frame size
      const template = markProcessed(makeTrade({ payload: { trade_id: "x".repeat(pad) } }));
      await child.request({ type: "publish", template, count: events });
      for (const socket of fast) {
        await waitFor(() => socket.events().length === events, {
          timeoutMs: 60_000,
          message: `every event (a fast client has ${socket.events().length}, closed: ${JSON.stringify(socket.closed)})`,
        });
      }
      const after = memoryOf(pid);
      const grown = after.peak - before.rss;
      console.info(
        `overload: ${slowClients} slow + ${fastClients} fast clients, ${events} events, budget ${budget / MiB} MiB: ` +
          `RSS ${(before.rss / MiB).toFixed(1)} MiB before, peak ${(after.peak / MiB).toFixed(1)} MiB (+${(grown / MiB).toFixed(1)})`,
      );
      // The fast clients have everything and are still connected; the slow ones are gone.
      expect(fast.map((s) => s.closed)).toEqual(fast.map(() => undefined));
      const cut = await metricValue(
        gatewayUrl,
        "market_scraper_gateway_stream_disconnects_total",
        'reason="memory_budget"',
      );
      const overflowed = await metricValue(
        gatewayUrl,
        "market_scraper_gateway_stream_disconnects_total",
        'reason="slow_consumer"',
      );
      expect(cut).toBeGreaterThan(0);
      expect(cut + overflowed).toBe(slowClients);
      expect(await metricValue(gatewayUrl, "market_scraper_gateway_stream_clients", 'transport="ws"')).toBe(
        fastClients,
      );
      // Memory: what the buffers may hold (the budget), twice for allocator slack, plus 32 MiB for the
      // rest of the work (frames in flight, garbage not collected yet).
      expect(grown).toBeLessThan(2 * budget + 32 * MiB);
    } finally {
      for (const socket of [...fast, ...slow]) socket.close();
    }
  }, 240_000);
});
