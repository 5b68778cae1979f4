import { markProcessed } from "@market-scraper/events";
import { makeTicker, makeTrade } from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { ErrorResponse, type GatewayService, type StorageQueryRunner, toGatewayError } from "../src/index.js";
import { type MemoryGateway, TestSocket, getJson, startMemoryGateway } from "./helpers.js";

// The gateway over MemoryEventBus and an in-process storage client, as `standalone` will run it.

let running: MemoryGateway | undefined;
let bus: MemoryGateway["bus"] | undefined;

async function start(run: StorageQueryRunner): Promise<GatewayService> {
  running = await startMemoryGateway(run);
  bus = running.bus;
  return running.gateway;
}

afterEach(async () => {
  await running?.stop();
  running = undefined;
});

const error = (code: string, message: string) => Object.assign(new Error(message), { code });

describe("gateway on MemoryEventBus", () => {
  it("streams processed and system events, not raw market events", async () => {
    const gw = await start(async () => ({ data: [] }));
    const socket = await TestSocket.open(`${gw.url.replace("http", "ws")}/v1/stream`);
    try {
      await socket.request({ action: "subscribe", event_types: ["trade"] }, "subscribed");
      const raw = makeTrade();
      const processed = markProcessed(makeTrade());
      await bus!.publish(raw);
      await bus!.publish(processed);
      await socket.next((f) => f.type === "event");
      expect(socket.events().map((e) => e.event_id)).toEqual([processed.event_id]);
    } finally {
      socket.close();
    }
  });

  it.each([
    [error("BAD_REQUEST", "invalid cursor"), 400, "BAD_REQUEST", "invalid cursor"],
    [error("NOT_FOUND", "no such thing"), 404, "NOT_FOUND", "no such thing"],
    [
      error("UNAVAILABLE", "database down"),
      503,
      "STORAGE_UNAVAILABLE",
      "storage is unavailable: database down",
    ],
    [new Error("boom at /srv/secret/db.ts:12"), 502, "STORAGE_ERROR", "storage failed to answer the query"],
  ])("maps a storage failure (%s) to %i", async (thrown, status, code, message) => {
    const gw = await start(async () => {
      throw thrown;
    });
    const { status: got, body } = await getJson(`${gw.url}/v1/events`);
    expect(got).toBe(status);
    expect(ErrorResponse.parse(body)).toEqual({ error: { code, message } });
    expect(JSON.stringify(body)).not.toContain("secret");
  });

  it("answers 502 when storage replies with a wrong shape", async () => {
    const gw = await start(async () => ({ rows: [] }));
    const { status, body } = await getJson(`${gw.url}/v1/markets`);
    expect(status).toBe(502);
    expect(ErrorResponse.parse(body).error.code).toBe("STORAGE_ERROR");
  });

  it("serves the latest ticker from the in-process store", async () => {
    const ticker = markProcessed(makeTicker({ symbol: "BTC-USD", payload: { price: 42 } }));
    const requests: unknown[] = [];
    const gw = await start(async (name, request) => {
      requests.push([name, request]);
      return { data: [ticker] };
    });
    const { status, body } = await getJson<{ data: { event_id: string } }>(
      `${gw.url}/v1/markets/BTC-USD/ticker`,
    );
    expect(status).toBe(200);
    expect(body.data.event_id).toBe(ticker.event_id);
    expect(requests).toEqual([["latest", { event_type: "ticker", symbol: "BTC-USD" }]]);
  });
});

describe("toGatewayError", () => {
  it("hides unexpected errors behind INTERNAL", () => {
    const mapped = toGatewayError(new TypeError("cannot read properties of undefined (reading 'x')"));
    expect(mapped.toBody()).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
    expect(mapped.status).toBe(500);
  });
});
