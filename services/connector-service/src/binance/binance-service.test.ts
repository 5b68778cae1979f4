import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { OrderBookEvent, StandardEvent } from "@market-scraper/events";
import { createLogger, parseEnv } from "@market-scraper/runtime";
import { FakeBinanceServer, type FakeBinanceLevel, waitFor } from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { connectorEnv } from "../config.js";
import { ManualScheduler } from "../framework/scheduler.js";
import { type ConnectorService, createConnectorService } from "../service.js";
import { BinanceConnector } from "./binance-connector.js";

const logger = createLogger({ service: "test", level: "silent" });
const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures");

describe("Binance book configuration through the connector service", () => {
  let fake: FakeBinanceServer | undefined;
  let service: ConnectorService | undefined;

  afterEach(async () => {
    await service?.stop();
    await fake?.close();
    service = undefined;
    fake = undefined;
  });

  for (const [prefix, kind, name] of [
    ["BINANCE", "spot", "binance"],
    ["BINANCE_USDM", "usdm", "binance-usdm"],
  ] as const) {
    it(`${prefix}_BOOK_DEPTH and ${prefix}_BOOK_INTERVAL reach the order-book engine`, async () => {
      const f = (fake = await FakeBinanceServer.start({ kind }));
      const bids: FakeBinanceLevel[] = [];
      const asks: FakeBinanceLevel[] = [];
      for (let i = 0; i < 30; i += 1) {
        bids.push([(29_999 - i).toFixed(2), "1.5"]);
        asks.push([(30_001 + i).toFixed(2), "2.5"]);
      }
      f.updateBook("BTCUSDT", bids, asks);
      // Time moves only when the test says so: the conflation interval is observed exactly.
      const scheduler = new ManualScheduler(Date.now());
      const published: StandardEvent[] = [];
      const config = parseEnv(connectorEnv, {
        CONNECTORS: name,
        [`${prefix}_WS_URL`]: f.wsUrl,
        [`${prefix}_REST_URL`]: f.restUrl,
        [`${prefix}_SYMBOLS`]: "BTCUSDT",
        [`${prefix}_CHANNELS`]: "order_book",
        [`${prefix}_BOOK_DEPTH`]: "5",
        [`${prefix}_BOOK_INTERVAL`]: "10s",
        HEARTBEAT_INTERVAL: "0",
      });
      const s = (service = createConnectorService({
        config,
        bus: { publish: async (event) => void published.push(event) },
        logger,
        scheduler,
      }));
      await s.start();
      const connector = s.connectors[0] as BinanceConnector;
      expect(connector).toBeInstanceOf(BinanceConnector);
      const books = () =>
        published.filter((e): e is OrderBookEvent => e.event_type === "order_book").map((e) => e.payload);
      const truth = (depth: number) => {
        const book = f.trueBook("BTCUSDT", depth);
        const num = (levels: [string, string][]) => levels.map(([p, q]) => [Number(p), Number(q)]);
        return { sequence: book.lastUpdateId, bids: num(book.bids), asks: num(book.asks) };
      };
      // The subscription opens the depth stream; the first update makes the engine fetch its snapshot.
      await waitFor(() => f.hasStream("btcusdt@depth@100ms"), { message: "subscribed" });
      f.updateBook("BTCUSDT", [["29998.50", "3"]], []);
      await waitFor(
        () => {
          scheduler.advance(0);
          return books().length === 1;
        },
        { message: "the first book" },
      );
      // BOOK_DEPTH: five levels a side, the true top five.
      const first = books()[0]!;
      expect({ sequence: first.sequence, bids: first.bids, asks: first.asks }).toEqual(truth(5));

      // BOOK_INTERVAL: updates within 10 s of the last publish are held, and the final state comes at
      // the end of the interval.
      f.updateBook("BTCUSDT", [["29999.00", "0"]], []);
      f.updateBook("BTCUSDT", [], [["30001.00", "4.75"]]);
      await waitFor(() => connector.book("BTCUSDT")?.book.sequence === truth(5).sequence, {
        message: "the engine applied both updates",
      });
      scheduler.advance(9_999);
      expect(books()).toHaveLength(1);
      scheduler.advance(1);
      expect(books()).toHaveLength(2);
      const last = books()[1]!;
      expect({ sequence: last.sequence, bids: last.bids, asks: last.asks }).toEqual(truth(5));
    });
  }

  it("a replayed Binance capture publishes books of BINANCE_BOOK_DEPTH levels", async () => {
    const published: StandardEvent[] = [];
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const config = parseEnv(connectorEnv, {
      CONNECTORS: "replay",
      REPLAY_SOURCE: "binance",
      REPLAY_FILE: join(fixtures, "binance-capture.jsonl"),
      REPLAY_SPEED: "max",
      BINANCE_BOOK_DEPTH: "2",
      HEARTBEAT_INTERVAL: "0",
    });
    const s = (service = createConnectorService({
      config,
      bus: { publish: async (event) => void published.push(event) },
      logger,
      onReplayFinished: () => finished(),
    }));
    await s.start();
    await done;
    const books = published.filter((e): e is OrderBookEvent => e.event_type === "order_book");
    expect(books.length).toBeGreaterThan(0);
    for (const book of books) {
      expect(book.payload.bids).toHaveLength(2);
      expect(book.payload.asks).toHaveLength(2);
    }
  });
});
