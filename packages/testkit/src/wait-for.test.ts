import { describe, expect, it } from "vitest";
import { TestkitError } from "./testkit-error.js";
import { waitFor } from "./wait-for.js";

describe("waitFor", () => {
  it("resolves with the first truthy value, retrying falsy results and errors", async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls += 1;
        if (calls === 1) throw new Error("not yet");
        return calls === 2 ? null : { calls };
      },
      { intervalMs: 1 },
    );
    expect(value).toEqual({ calls: 3 });
  });

  it("awaits async probes", async () => {
    await expect(waitFor(() => Promise.resolve(42), { timeoutMs: 100 })).resolves.toBe(42);
  });

  it("times out naming what it waited for and the last error", async () => {
    const failure = await waitFor(
      () => {
        throw new Error("connection refused");
      },
      { timeoutMs: 50, intervalMs: 5, message: "the server" },
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TestkitError);
    expect(failure).toMatchObject({ code: "WAIT_TIMEOUT", cause: new Error("connection refused") });
    expect((failure as Error).message).toMatch(
      /Timed out after 50 ms waiting for the server .*connection refused/,
    );
  });

  it("says so when the probe only ever returned falsy values", async () => {
    await expect(waitFor(() => 0, { timeoutMs: 20, intervalMs: 5 })).rejects.toThrow(
      /returned a falsy value/,
    );
  });

  it("stops at once when its signal aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("server exited")), 20);
    const started = Date.now();
    await expect(waitFor(() => false, { timeoutMs: 5_000, signal: controller.signal })).rejects.toThrow(
      "server exited",
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
