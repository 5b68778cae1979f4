import { MemoryEventBus } from "@market-scraper/bus";
import { type StandardEvent, markProcessed } from "@market-scraper/events";
import {
  type GatewayService,
  NatsStorageClient,
  type StorageClient,
  createGatewayService,
} from "@market-scraper/gateway-service";
import {
  HealthState,
  type Service,
  createLogger,
  createMetricsRegistry,
  registerMicroService,
} from "@market-scraper/runtime";
import { SqliteStore, type StorageService, createStorageService } from "@market-scraper/storage-service";
import { type NatsServerHandle, makeTrades, startNats, waitFor } from "@market-scraper/testkit";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localStorageClient, parseStandaloneEnv } from "../src/index.js";

// The gateway's error answers are the same whichever storage client it has: `standalone`'s in-process
// one and the distributed `NatsStorageClient` (over the storage service's `storage.*` endpoints), both
// over one real SQLite store. Same request, same status and body, both modes.

const logger = createLogger({ service: "storage-contract-test", level: "silent" });
const config = parseStandaloneEnv({ LOG_LEVEL: "silent", STORAGE_FLUSH_MS: "20ms" });

let nats: NatsServerHandle;
let nc: NatsConnection;
let micro: Service;
let bus: MemoryEventBus;
let store: SqliteStore;
let storage: StorageService;
let local: GatewayService;
let distributed: GatewayService;
// Each trade stored twice, as in a running system: raw (`market`) and processed.
const raw = makeTrades(3, { symbol: "BTC-USD" });
const processed = raw.map((trade) => markProcessed(trade));

function gatewayOver(client: StorageClient): GatewayService {
  return createGatewayService({
    bus,
    storage: client,
    logger,
    config: { ...config.gateway, HTTP_PORT: 0 },
    registry: createMetricsRegistry({ service: "storage-contract-test", collectDefault: false }),
    health: new HealthState(),
    host: "127.0.0.1",
  });
}

beforeAll(async () => {
  nats = await startNats({ isolated: true });
  nc = await connect({ servers: nats.url });
  micro = await registerMicroService(nc, { name: "storage-contract", version: "0.1.0", description: "test" });
  bus = new MemoryEventBus();
  store = new SqliteStore({ path: ":memory:" });
  storage = createStorageService({
    nc,
    ingest: { kind: "bus", bus },
    micro,
    store,
    logger,
    config: config.storage,
    registry: createMetricsRegistry({ service: "storage-contract-test", collectDefault: false }),
  });
  await storage.start();
  local = gatewayOver(localStorageClient(storage));
  distributed = gatewayOver(new NatsStorageClient({ connection: nc }));
  await local.start();
  await distributed.start();
  for (const event of [...raw, ...processed]) await bus.publish(event);
  await waitFor(async () => (await store.stats()).total_events === 6, { message: "trades stored" });
});

afterAll(async () => {
  await local?.stop();
  await distributed?.stop();
  await storage?.stop();
  await micro?.stop();
  await bus?.close();
  await store?.close();
  await nc?.drain();
  await nats?.stop();
});

async function answer(gateway: GatewayService, path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${gateway.url}${path}`);
  return { status: response.status, body: await response.json() };
}

// A cursor that decodes (base64url JSON) but is not a position, and one that is not even base64.
const wrongCursor = Buffer.from(JSON.stringify({ nope: 1 })).toString("base64url");

const cases: [path: string, status: number, code: string][] = [
  ["/v1/events?cursor=garbage", 400, "BAD_REQUEST"],
  ["/v1/events?cursor=%E2%9C%93%E2%9C%93", 400, "BAD_REQUEST"],
  [`/v1/events?cursor=${wrongCursor}`, 400, "BAD_REQUEST"],
  ["/v1/markets/BTC-USD/trades?cursor=garbage", 400, "BAD_REQUEST"],
  ["/v1/markets/BTC-USD/ohlcv?cursor=garbage", 400, "BAD_REQUEST"],
  ["/v1/events?start=yesterday", 400, "BAD_REQUEST"],
  ["/v1/events?limit=0", 400, "BAD_REQUEST"],
  ["/v1/events?evnt_type=trade", 400, "BAD_REQUEST"],
  ["/v1/markets/NOPE-USD/ticker", 404, "NOT_FOUND"],
  ["/v1/markets/BTC-USD/orderbook", 404, "NOT_FOUND"],
];

describe("the gateway over either storage client", () => {
  it.each(cases)("GET %s → %i %s from both", async (path, status, code) => {
    const [fromLocal, fromNats] = await Promise.all([answer(local, path), answer(distributed, path)]);
    expect(fromNats).toMatchObject({ status, body: { error: { code } } });
    expect(fromLocal).toEqual(fromNats);
  });

  it("says 'invalid cursor' for a garbage cursor in both modes", async () => {
    for (const gateway of [local, distributed]) {
      const { status, body } = await answer(gateway, "/v1/events?cursor=garbage");
      expect(status).toBe(400);
      expect(body).toEqual({ error: { code: "BAD_REQUEST", message: "invalid cursor" } });
    }
  });

  it("answers the same pages in both modes", async () => {
    const path = "/v1/events?event_type=trade&limit=2";
    const [fromLocal, fromNats] = await Promise.all([answer(local, path), answer(distributed, path)]);
    expect(fromLocal.status).toBe(200);
    expect(fromLocal).toEqual(fromNats);
    const cursor = (fromLocal.body as { next_cursor: string }).next_cursor;
    const next = `/v1/events?event_type=trade&limit=2&cursor=${cursor}`;
    expect(await answer(local, next)).toEqual(await answer(distributed, next));
  });
});

describe("/v1/events' default stage", () => {
  const ids = (body: unknown) =>
    (body as { data: StandardEvent[] }).data.map(
      (e) => `${e.event_id}/${e.processed_at === null ? "raw" : "p"}`,
    );

  it("answers one row per trade for event_type=trade (processed), both modes", async () => {
    for (const gateway of [local, distributed]) {
      const { status, body } = await answer(gateway, "/v1/events?event_type=trade");
      expect(status).toBe(200);
      expect(ids(body)).toEqual(processed.map((e) => `${e.event_id}/p`));
    }
  });

  it("gives the raw trades with stage=market, and every stage without event_type", async () => {
    for (const gateway of [local, distributed]) {
      const market = await answer(gateway, "/v1/events?event_type=trade&stage=market");
      expect(ids(market.body)).toEqual(raw.map((e) => `${e.event_id}/raw`));
      const all = await answer(gateway, "/v1/events");
      expect((all.body as { data: unknown[] }).data).toHaveLength(6);
    }
  });
});
