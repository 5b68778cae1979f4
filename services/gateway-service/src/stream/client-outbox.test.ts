import { describe, expect, it } from "vitest";
import { ClientOutbox, type OutboxTransport } from "./client-outbox.js";
import { StreamBudget } from "./stream-budget.js";

/** A socket whose buffer empties only when the test says so. */
class FakeTransport implements OutboxTransport {
  readonly written: string[] = [];
  readonly #pending: { size: number; flushed: () => void }[] = [];

  buffered(): number {
    return this.#pending.reduce((sum, p) => sum + p.size, 0);
  }

  write(frame: string, flushed: () => void): void {
    this.written.push(frame);
    this.#pending.push({ size: frame.length, flushed });
  }

  /** The kernel takes everything buffered, including what the flushes write next. */
  drain(): void {
    while (this.#pending.length > 0) for (const pending of this.#pending.splice(0)) pending.flushed();
  }
}

const options = { highWaterBytes: 10, maxQueued: 3, conflate: false };

describe("ClientOutbox", () => {
  it("writes straight through while the transport is below its high water", () => {
    const transport = new FakeTransport();
    const outbox = new ClientOutbox(transport, options);
    expect(outbox.push("aaaa")).toBe("ok");
    expect(outbox.push("bbbb")).toBe("ok");
    expect(transport.written).toEqual(["aaaa", "bbbb"]);
    expect(outbox.queued).toBe(0);
  });

  it("queues behind a full transport, overflows past maxQueued, and pumps in order on flush", () => {
    const transport = new FakeTransport();
    const outbox = new ClientOutbox(transport, options);
    outbox.push("0123456789"); // at high water now
    expect(["a", "b", "c"].map((f) => outbox.push(f))).toEqual(["ok", "ok", "ok"]);
    expect(outbox.queued).toBe(3);
    expect(outbox.push("d")).toBe("overflow");
    expect(transport.written).toEqual(["0123456789"]);

    transport.drain();
    expect(transport.written).toEqual(["0123456789", "a", "b", "c"]);
    expect(outbox.queued).toBe(0);
    expect(outbox.sent).toBe(4);
  });

  it("keeps order: a new frame queues behind queued ones even when the transport has room", () => {
    const transport = new FakeTransport();
    const outbox = new ClientOutbox(transport, { ...options, highWaterBytes: 4 });
    outbox.push("1234");
    outbox.push("a");
    transport.drain(); // pumps "a"; the transport has room again
    outbox.push("5678");
    outbox.push("b");
    outbox.push("c");
    transport.drain();
    expect(transport.written).toEqual(["1234", "a", "5678", "b", "c"]);
  });

  it("conflates queued frames with the same key, in place, only when asked to", () => {
    const transport = new FakeTransport();
    const outbox = new ClientOutbox(transport, { ...options, conflate: true });
    outbox.push("0123456789");
    expect(outbox.push("btc-1", "BTC")).toBe("ok");
    expect(outbox.push("trade", undefined)).toBe("ok");
    expect(outbox.push("eth-1", "ETH")).toBe("ok");
    // Full of three frames, but newer values replace their queued predecessors.
    expect(outbox.push("btc-2", "BTC")).toBe("conflated");
    expect(outbox.push("eth-2", "ETH")).toBe("conflated");
    expect(outbox.push("btc-3", "BTC")).toBe("conflated");
    expect(outbox.push("sol-1", "SOL")).toBe("overflow");
    expect(outbox.conflated).toBe(3);
    transport.drain();
    expect(transport.written).toEqual(["0123456789", "btc-3", "trade", "eth-2"]);

    // Once sent, a key is no longer pending: the next value queues again.
    outbox.push("0123456789");
    transport.drain();
    outbox.push("0123456789");
    expect(outbox.push("btc-4", "BTC")).toBe("ok");
    expect(outbox.push("btc-5", "BTC")).toBe("conflated");

    const strict = new ClientOutbox(new FakeTransport(), options);
    strict.push("0123456789");
    expect(strict.push("btc-1", "BTC")).toBe("ok");
    expect(strict.push("btc-2", "BTC")).toBe("ok");
  });

  it("sends control frames regardless of the bounds, behind queued frames", () => {
    const transport = new FakeTransport();
    const outbox = new ClientOutbox(transport, options);
    outbox.push("0123456789");
    outbox.push("a");
    outbox.push("b");
    outbox.push("c");
    outbox.pushControl("ack");
    transport.drain();
    expect(transport.written).toEqual(["0123456789", "a", "b", "c", "ack"]);
  });

  it("bounds control frames too: a client that never reads its answers overflows", () => {
    const transport = new FakeTransport();
    const outbox = new ClientOutbox(transport, options);
    outbox.push("0123456789");
    const results = Array.from({ length: 7 }, () => outbox.pushControl("pong"));
    expect(results).toEqual(["ok", "ok", "ok", "ok", "ok", "ok", "overflow"]);
  });

  it("drops everything and ignores pushes once closed", () => {
    const transport = new FakeTransport();
    const outbox = new ClientOutbox(transport, options);
    outbox.push("0123456789");
    outbox.push("a");
    outbox.close();
    expect(outbox.push("b")).toBe("ok");
    outbox.pushControl("c");
    transport.drain();
    expect(transport.written).toEqual(["0123456789"]);
  });

  it("counts queued and buffered bytes against the shared budget, and gives them back", () => {
    const budget = new StreamBudget(100);
    const a = new FakeTransport();
    const b = new FakeTransport();
    const one = new ClientOutbox(a, { ...options, budget });
    const two = new ClientOutbox(b, { ...options, budget, conflate: true });
    one.push("0123456789"); // written, not flushed
    one.push("abc");
    one.push("de", undefined, 5); // a frame's UTF-8 size when the caller knows it
    two.push("0123456789");
    two.push("btc-1", "BTC");
    two.push("btc-22", "BTC"); // conflated: the newer size replaces the older
    expect([one.pendingBytes, two.pendingBytes, budget.used]).toEqual([18, 16, 34]);
    a.drain(); // "abc" and "de" went to the socket and were flushed with it
    expect([one.pendingBytes, budget.used]).toEqual([0, 16]);
    two.close(); // the queue is freed now, the socket's bytes when it is gone
    expect([two.pendingBytes, budget.used]).toEqual([10, 10]);
    two.release();
    b.drain(); // late write callbacks do not count twice
    expect([two.pendingBytes, budget.used]).toEqual([0, 0]);
    expect(budget.over).toBe(false);
  });
});
