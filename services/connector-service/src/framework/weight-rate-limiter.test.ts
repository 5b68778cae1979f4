import { describe, expect, it } from "vitest";
import { ManualScheduler } from "./scheduler.js";
import { WeightRateLimiter } from "./weight-rate-limiter.js";

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
}

describe("WeightRateLimiter", () => {
  it("lets requests through while weight lasts, then paces them by the refill rate", async () => {
    const scheduler = new ManualScheduler(0);
    const limiter = new WeightRateLimiter({ capacity: 60, windowMs: 60_000, scheduler }); // 1 weight/s
    const done: number[] = [];
    for (let i = 0; i < 4; i += 1) void limiter.acquire(20).then(() => done.push(scheduler.now()));
    await settle();
    expect(done).toEqual([0, 0, 0]);
    scheduler.advance(19_999);
    await settle();
    expect(done).toHaveLength(3);
    scheduler.advance(1);
    await settle();
    expect(done).toEqual([0, 0, 0, 20_000]);
  });

  it("holds every request during a pause (Retry-After) and starts from an empty bucket", async () => {
    const scheduler = new ManualScheduler(0);
    const limiter = new WeightRateLimiter({ capacity: 1200, windowMs: 60_000, scheduler }); // 20/s
    limiter.pauseFor(5_000);
    const done: number[] = [];
    void limiter.acquire(2).then(() => done.push(scheduler.now()));
    scheduler.advance(5_000);
    await settle();
    expect(done).toEqual([]);
    scheduler.advance(100);
    await settle();
    expect(done).toEqual([5_100]);
  });
});
