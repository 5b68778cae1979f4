import { describe, expect, it } from "vitest";
import { ManualScheduler } from "./scheduler.js";

describe("ManualScheduler", () => {
  it("fires timers in order, on time, including timers set by timers", () => {
    const s = new ManualScheduler(0);
    const fired: string[] = [];
    s.setTimeout(() => fired.push(`b@${s.now()}`), 20);
    s.setTimeout(() => {
      fired.push(`a@${s.now()}`);
      s.setTimeout(() => fired.push(`c@${s.now()}`), 5);
    }, 10);
    const cancelled = s.setTimeout(() => fired.push("never"), 15);
    s.clearTimeout(cancelled);
    s.advance(14);
    expect(fired).toEqual(["a@10"]);
    s.advance(100);
    expect(fired).toEqual(["a@10", "c@15", "b@20"]);
    expect(s.now()).toBe(114);
    expect(s.pending).toBe(0);
  });
});
