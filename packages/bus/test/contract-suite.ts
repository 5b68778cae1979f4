import { randomUUID } from "node:crypto";
import {
  EventType,
  type EventFilter,
  type StandardEvent,
  StandardEvent as SE,
  markProcessed,
} from "@market-scraper/events";
import { waitFor } from "@market-scraper/testkit";
import { afterEach, describe, expect, it } from "vitest";
import type { DeadLetter, EventBus, EventHandler, SubscribeOptions } from "../src/index.js";

export interface BusUnderTest {
  /** A new bus on the shared server; `source` names its dead-letter error events. */
  create(options: { maxDeliver?: number; retryDelayMs?: number; source?: string }): Promise<EventBus>;
  /** Stops and restarts the server, for transports that have one and can tolerate an outage. */
  outage?: { stop(): Promise<void>; start(): Promise<void> };
  /** Core subscriptions are established asynchronously on some transports: how to wait for them. */
  settle?(bus: EventBus): Promise<void>;
  /** Called after each test, once its buses are closed. */
  reset?(): void;
}

let tradeCounter = 0;

export function trade(
  source: string,
  symbol = "BTC-USD",
  extra: Record<string, unknown> = {},
): StandardEvent {
  tradeCounter++;
  return SE.create({
    event_type: EventType.TRADE,
    source,
    payload: {
      symbol,
      price: 50_000 + tradeCounter,
      volume: 0.5,
      timestamp: new Date(Date.UTC(2024, 0, 15, 10, 30, 0, tradeCounter % 1000)).toISOString(),
      trade_id: String(tradeCounter),
      ...extra,
    },
  });
}

export function ticker(source: string, symbol = "BTC-USD"): StandardEvent {
  return SE.create({
    event_type: EventType.TICKER,
    source,
    payload: { symbol, price: 100, volume: 10, bid: 99.5, ask: 100.5 },
  });
}

export function errorEvent(source: string): StandardEvent {
  return SE.create({
    event_type: EventType.ERROR,
    source,
    payload: { error_code: "TEST", message: "test error", details: { n: 1 } },
  });
}

/** Collects what a subscription receives. */
export class Inbox {
  readonly events: StandardEvent[] = [];
  readonly handler: EventHandler = (e) => {
    this.events.push(e);
  };
  ids(): string[] {
    return this.events.map((e) => e.event_id);
  }
  from(source: string): StandardEvent[] {
    return this.events.filter((e) => e.source === source);
  }
}

function uniqueSource(): string {
  return `t${randomUUID().slice(0, 8)}`;
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * The behaviour every EventBus implementation must show (ARCHITECTURE §5). Each test uses its own
 * `source`, so tests may share one server and still see only their own events.
 */
export function describeBusContract(
  name: string,
  setup: () => BusUnderTest,
  capabilities: { outage: boolean },
): void {
  describe(`EventBus contract: ${name}`, () => {
    const open = new Set<EventBus>();
    let harness: BusUnderTest;

    async function bus(options: { maxDeliver?: number; retryDelayMs?: number; source?: string } = {}) {
      harness ??= setup();
      const b = await harness.create({ retryDelayMs: 20, ...options });
      open.add(b);
      return b;
    }

    async function sub(b: EventBus, filter: EventFilter, handler: EventHandler, options?: SubscribeOptions) {
      const s = await b.subscribe(filter, handler, options);
      await harness.settle?.(b);
      return s;
    }

    afterEach(async () => {
      const buses = [...open];
      open.clear();
      await Promise.all(buses.map((b) => b.close()));
      harness?.reset?.();
    });

    it("works with the design document's snippet shape", async () => {
      const b = await bus();
      const source = uniqueSource();
      const received: string[] = [];
      async function handler(event: StandardEvent) {
        if (event.source === source) received.push(`Received: ${event.event_type}`);
      }
      await b.subscribe(EventType.TRADE, handler);
      await harness.settle?.(b);
      const event = SE.create({
        event_type: EventType.TRADE,
        source,
        payload: { symbol: "BTC-USD", price: 50000.0, volume: 1.5, timestamp: "2024-01-15T10:30:00Z" },
        priority: 5,
      });
      await b.publish(event);
      await waitFor(() => received.length === 1);
      expect(received).toEqual(["Received: trade"]);
    });

    it("delivers each event to every matching subscriber", async () => {
      const b = await bus();
      const source = uniqueSource();
      const [t1, t2, tk] = [new Inbox(), new Inbox(), new Inbox()];
      await sub(b, { event_types: [EventType.TRADE], sources: [source] }, t1.handler);
      await sub(b, { event_types: [EventType.TRADE], sources: [source] }, t2.handler);
      await sub(b, { event_types: [EventType.TICKER], sources: [source] }, tk.handler);
      const events = [trade(source), trade(source), ticker(source)];
      for (const e of events) await b.publish(e);
      await waitFor(() => t1.events.length === 2 && t2.events.length === 2 && tk.events.length === 1);
      expect(t1.ids()).toEqual([events[0]!.event_id, events[1]!.event_id]);
      expect(t2.ids()).toEqual(t1.ids());
      expect(tk.ids()).toEqual([events[2]!.event_id]);
      expect(t1.events[0]).toEqual(events[0]);
    });

    it("honours every filter form: type, list, '*', and stage/sources/symbols", async () => {
      const b = await bus();
      const source = uniqueSource();
      const other = uniqueSource();
      const byType = new Inbox();
      const byList = new Inbox();
      const all = new Inbox();
      const processedBtc = new Inbox();
      const marketFromOther = new Inbox();
      const systemOnly = new Inbox();
      await sub(b, EventType.TICKER, byType.handler);
      await sub(b, [EventType.TICKER, EventType.ERROR], byList.handler);
      await sub(b, "*", all.handler);
      await sub(b, { stage: "processed", symbols: ["BTC-USD"] }, processedBtc.handler);
      await sub(b, { stage: ["market"], sources: [other] }, marketFromOther.handler);
      await sub(b, { stage: "system", sources: [source] }, systemOnly.handler);

      const btc = trade(source, "BTC-USD");
      const eth = trade(source, "ETH-USD");
      const tk = ticker(source);
      const err = errorEvent(source);
      const processed = markProcessed(trade(source, "BTC-USD"));
      const processedEth = markProcessed(trade(source, "ETH-USD"));
      const foreign = trade(other, "SOL-USD");
      const sent = [btc, eth, tk, err, processed, processedEth, foreign];
      for (const e of sent) await b.publish(e);

      await waitFor(() => all.from(source).length + all.from(other).length === sent.length);
      await waitFor(() => systemOnly.events.length === 1 && marketFromOther.events.length === 1);
      await waitFor(() => processedBtc.from(source).length === 1);
      await waitFor(() => byList.from(source).length === 2);
      expect(byType.from(source).map((e) => e.event_id)).toEqual([tk.event_id]);
      expect(byList.from(source).map((e) => e.event_id)).toEqual([tk.event_id, err.event_id]);
      expect([...all.from(source), ...all.from(other)].map((e) => e.event_id).sort()).toEqual(
        sent.map((e) => e.event_id).sort(),
      );
      expect(processedBtc.from(source).map((e) => e.event_id)).toEqual([processed.event_id]);
      expect(marketFromOther.ids()).toEqual([foreign.event_id]);
      expect(systemOnly.ids()).toEqual([err.event_id]);
    });

    it("splits a group's events between its members, none lost or doubled", async () => {
      const b1 = await bus();
      const b2 = await bus();
      const source = uniqueSource();
      const m1 = new Inbox();
      const m2 = new Inbox();
      const slow =
        (inbox: Inbox): EventHandler =>
        async (e) => {
          inbox.events.push(e);
          await new Promise((r) => setTimeout(r, 2));
        };
      const group = `g-${source}`;
      await sub(b1, { sources: [source] }, slow(m1), { group });
      await sub(b2, { sources: [source] }, slow(m2), { group });
      const sent = Array.from({ length: 100 }, () => trade(source));
      for (const e of sent) await b1.publish(e);
      await b1.flush();
      await waitFor(() => m1.events.length + m2.events.length >= sent.length, { timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 200)); // would reveal late duplicates
      const got = [...m1.ids(), ...m2.ids()];
      expect(got.length).toBe(sent.length);
      expect(new Set(got).size).toBe(sent.length);
      expect(m1.events.length).toBeGreaterThan(0);
      expect(m2.events.length).toBeGreaterThan(0);
    });

    it("resumes a durable subscription after a restart, missing nothing", async () => {
      const publisher = await bus();
      const consumerBus = await bus();
      const source = uniqueSource();
      const durable = `d-${source}`;
      const first = new Inbox();
      const s1 = await sub(consumerBus, { sources: [source] }, first.handler, { durable });
      const before = Array.from({ length: 5 }, () => trade(source));
      for (const e of before) await publisher.publish(e);
      await publisher.flush();
      await waitFor(() => first.events.length === 5);
      await s1.unsubscribe();

      const during = Array.from({ length: 5 }, () => trade(source));
      for (const e of during) await publisher.publish(e);
      await publisher.flush();

      const second = new Inbox();
      await sub(consumerBus, { sources: [source] }, second.handler, { durable });
      await waitFor(() => second.events.length >= 5);
      await new Promise((r) => setTimeout(r, 200));
      expect(first.ids()).toEqual(before.map((e) => e.event_id));
      expect(second.ids()).toEqual(during.map((e) => e.event_id));
    });

    for (const kind of ["plain", "durable"] as const) {
      it(`redelivers to a throwing handler (${kind}), then dead-letters the event with an error event`, async () => {
        const busSource = uniqueSource();
        const b = await bus({ maxDeliver: 3, source: busSource });
        const source = uniqueSource();
        const letters: DeadLetter[] = [];
        b.onDeadLetter((l) => letters.push(l));
        const errors = new Inbox();
        await sub(
          b,
          { stage: "system", event_types: [EventType.ERROR], sources: [busSource] },
          errors.handler,
        );

        const poison = trade(source, "BTC-USD");
        const flaky = trade(source, "ETH-USD");
        const fine = trade(source, "SOL-USD");
        const calls = new Map<string, number>();
        const delivered: string[] = [];
        const handler: EventHandler = (e) => {
          const n = (calls.get(e.event_id) ?? 0) + 1;
          calls.set(e.event_id, n);
          if (e.event_id === poison.event_id) throw new Error("poison");
          if (e.event_id === flaky.event_id && n < 2) throw new Error("flaky once");
          delivered.push(e.event_id);
        };
        await sub(b, { sources: [source] }, handler, kind === "durable" ? { durable: `dl-${source}` } : {});
        for (const e of [poison, flaky, fine]) await b.publish(e);
        await b.flush();

        await waitFor(() => letters.some((l) => l.event_id === poison.event_id), { timeoutMs: 20_000 });
        await waitFor(() => errors.events.length >= 1);
        await waitFor(() => delivered.length === 2);
        expect(calls.get(poison.event_id)).toBe(3);
        expect(calls.get(flaky.event_id)).toBe(2);
        expect(delivered.sort()).toEqual([flaky.event_id, fine.event_id].sort());
        const letter = letters.find((l) => l.event_id === poison.event_id)!;
        expect(letter.reason).toBe("HANDLER_FAILED");
        expect(letter.attempts).toBe(3);
        expect(letter.subject).toBe(`market.trade.${source}.BTC-USD`);
        expect(JSON.parse(Buffer.from(letter.data).toString("utf8"))).toMatchObject({
          event_id: poison.event_id,
        });
        const report = errors.events[0]!;
        expect(report.event_type).toBe("error");
        expect(report.priority).toBe(1);
        expect(report.payload).toMatchObject({
          error_code: "HANDLER_FAILED",
          details: {
            event_id: poison.event_id,
            subject: `market.trade.${source}.BTC-USD`,
            deadletter_subject: `deadletter.market.trade.${source}.BTC-USD`,
          },
        });
        expect(b.metrics().dead_lettered).toBeGreaterThanOrEqual(1);
        expect(b.metrics().failed).toBeGreaterThanOrEqual(4);
      });
    }

    it("counts and dead-letters a malformed message while the subscriber keeps running", async () => {
      const busSource = uniqueSource();
      const b = await bus({ source: busSource });
      const source = uniqueSource();
      const letters: DeadLetter[] = [];
      b.onDeadLetter((l) => letters.push(l));
      const errors = new Inbox();
      await sub(b, { stage: "system", event_types: [EventType.ERROR], sources: [busSource] }, errors.handler);
      const inbox = new Inbox();
      await sub(b, { sources: [source] }, inbox.handler);

      const subject = `market.trade.${source}.BTC-USD`;
      await b.publishRaw(subject, Buffer.from("{ this is not json"));
      await b.publishRaw(subject, Buffer.from(JSON.stringify({ event_type: "trade", source })));
      const good = trade(source);
      await b.publish(good);
      await b.flush();

      await waitFor(() => inbox.events.length === 1);
      await waitFor(() => letters.filter((l) => l.subject === subject).length >= 2);
      await waitFor(() => errors.events.length >= 2);
      expect(inbox.ids()).toEqual([good.event_id]);
      const malformed = letters.filter((l) => l.subject === subject);
      expect(malformed.every((l) => l.reason === "MALFORMED")).toBe(true);
      expect(Buffer.from(malformed[0]!.data).toString("utf8")).toBe("{ this is not json");
      expect(errors.events[0]!.payload).toMatchObject({
        error_code: "MALFORMED_MESSAGE",
        details: { subject, deadletter_subject: `deadletter.${subject}` },
      });
      expect(b.metrics().malformed).toBeGreaterThanOrEqual(2);
    });

    it("close() waits for the handlers in flight", async () => {
      const b = await bus();
      const source = uniqueSource();
      const started = deferred();
      let finished = false;
      await sub(b, { sources: [source] }, async () => {
        started.resolve();
        await new Promise((r) => setTimeout(r, 300));
        finished = true;
      });
      await b.publish(trade(source));
      await started.promise;
      await b.close();
      expect(finished).toBe(true);
      await expect(b.publish(trade(source))).rejects.toThrow(/closed/);
    });

    if (!capabilities.outage) return;

    it("delivers events published while the server is down once it is back", async () => {
      const b = await bus();
      const source = uniqueSource();
      const durableInbox = new Inbox();
      const plainInbox = new Inbox();
      await sub(b, { sources: [source] }, durableInbox.handler, { durable: `o-${source}` });
      await sub(b, { sources: [source] }, plainInbox.handler);
      const before = trade(source);
      await b.publish(before);
      await waitFor(() => durableInbox.events.length === 1 && plainInbox.events.length === 1);

      await harness.outage!.stop();
      await waitFor(() => !b.isReady(), { timeoutMs: 10_000 });
      const during = Array.from({ length: 20 }, () => trade(source));
      for (const e of during) await b.publish(e);
      await harness.outage!.start();

      await b.flush();
      await waitFor(() => durableInbox.events.length >= 21 && plainInbox.events.length >= 21, {
        timeoutMs: 30_000,
      });
      const want = [before, ...during].map((e) => e.event_id).sort();
      expect([...new Set(durableInbox.ids())].sort()).toEqual(want);
      expect([...new Set(plainInbox.ids())].sort()).toEqual(want);
    });
  });
}
