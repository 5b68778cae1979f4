import { type ChildProcess, spawn } from "node:child_process";
import type { NatsEventBus } from "@market-scraper/bus";
import { type NatsServerHandle, freePort, makeTrade, startNats, waitFor } from "@market-scraper/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  REPO_ROOT,
  type StorageProcess,
  TestSocket,
  connectPublisher,
  ensureBuilt,
  getJson,
  killWithTestProcess,
  publishProcessed,
  startStorageProcess,
} from "./helpers.js";

// End to end: the built gateway (dist/main.js) and storage service as child processes on real NATS.

const KEY = "main-test-key-1";

let nats: NatsServerHandle;
let publisher: NatsEventBus;
let storage: StorageProcess;

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  exit: Promise<number | null>;
}

async function runGateway(env: Record<string, string>): Promise<Running> {
  const main = ensureBuilt("gateway-service");
  const port = await freePort();
  let output = "";
  const child = spawn(process.execPath, [main], {
    cwd: REPO_ROOT,
    env: { ...process.env, NATS_URL: nats.url, HTTP_PORT: String(port), LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  killWithTestProcess(child);
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exit };
}

beforeAll(async () => {
  nats = await startNats({ isolated: true });
  publisher = await connectPublisher(nats.url);
  storage = await startStorageProcess(nats.url);
});

afterAll(async () => {
  await storage?.stop();
  await publisher?.close();
  await nats?.stop();
});

describe("gateway-service dist/main.js", () => {
  it("serves, registers as a micro service, and shuts down in order on SIGTERM", async () => {
    const gateway = await runGateway({ GATEWAY_API_KEYS: KEY });
    try {
      await waitFor(async () => (await fetch(`${gateway.url}/readyz`)).ok, {
        timeoutMs: 20_000,
        message: `gateway ready; output: ${gateway.output()}`,
      });

      const ping = await publisher.connection.request("$SRV.PING.gateway-service", undefined, {
        timeout: 2_000,
      });
      expect(ping.json()).toMatchObject({
        name: "gateway-service",
        version: "0.1.0",
        type: "io.nats.micro.v1.ping_response",
      });

      const trade = makeTrade({ symbol: "E2E-USD" });
      const socket = await TestSocket.open(`${gateway.url.replace("http", "ws")}/v1/stream?api_key=${KEY}`);
      await socket.request({ action: "subscribe", symbols: ["E2E-USD"] }, "subscribed");
      await publishProcessed(publisher, [trade]);
      await socket.next((f) => f.type === "event");
      await waitFor(
        async () =>
          (await getJson<{ data: unknown[] }>(`${gateway.url}/v1/events?symbol=E2E-USD`, KEY)).body.data
            .length === 1,
        {
          message: "the trade in storage",
        },
      );

      gateway.child.kill("SIGTERM");
      expect(await socket.waitClosed()).toMatchObject({ code: 1001 });
      expect(await gateway.exit).toBe(0);
      const lines = gateway
        .output()
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { msg: string; service: string });
      expect(lines.every((line) => line.service === "gateway-service")).toBe(true);
      expect(lines.map((line) => line.msg)).toEqual(
        expect.arrayContaining(["gateway started", "gateway stopped"]),
      );
      expect(gateway.output()).not.toContain(KEY);
    } finally {
      gateway.child.kill("SIGKILL");
    }
  });

  it("exits 78 naming a bad variable, without printing the key", async () => {
    const gateway = await runGateway({
      GATEWAY_API_KEYS: "short-1,ok-key-12345",
      GATEWAY_STREAM_BUFFER: "0",
    });
    expect(await gateway.exit).toBe(78);
    expect(gateway.output()).toContain("config error: GATEWAY_API_KEYS: key #1: expected 8-256 characters");
    expect(gateway.output()).toContain("config error: GATEWAY_STREAM_BUFFER: expected a positive integer");
    expect(gateway.output()).not.toContain("ok-key-12345");
  });
});
