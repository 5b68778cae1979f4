import { describe, expect, it } from "vitest";
import { z } from "zod";
import { EventValidationError, MarketScraperError, errorMessage, errorToJson } from "./errors.js";

class DemoError extends MarketScraperError<"DEMO_FAILED"> {
  override readonly name = "DemoError";
}

describe("MarketScraperError", () => {
  it("carries a code and an ES2022 cause", () => {
    const root = new Error("connect ECONNREFUSED");
    const err = new DemoError("DEMO_FAILED", "demo failed", { cause: root });
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: "DemoError", code: "DEMO_FAILED", message: "demo failed" });
    expect(err.cause).toBe(root);
    expect(Object.hasOwn(new DemoError("DEMO_FAILED", "no cause"), "cause")).toBe(false);
  });

  it("serializes as name, code, message and the cause chain (JSON.stringify uses toJSON)", () => {
    const system = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
    const middle = new DemoError("DEMO_FAILED", "query failed", { cause: system });
    const err = new EventValidationError("INVALID_JSON", [{ path: "", message: "bad" }], { cause: middle });
    expect(JSON.parse(JSON.stringify({ err }))).toEqual({
      err: {
        name: "EventValidationError",
        code: "INVALID_JSON",
        message: "invalid JSON: bad",
        cause: {
          name: "DemoError",
          code: "DEMO_FAILED",
          message: "query failed",
          cause: { name: "Error", code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:5432" },
        },
      },
    });
  });

  it("keeps causes that are not errors, aggregated errors, and cuts cycles", () => {
    const a = new DemoError("DEMO_FAILED", "a", { cause: { status: 503 } });
    expect(a.toJSON()).toEqual({
      name: "DemoError",
      code: "DEMO_FAILED",
      message: "a",
      cause: { status: 503 },
    });
    const fetchFailed = new TypeError("fetch failed", {
      cause: new AggregateError([new Error("ipv6 refused"), new Error("ipv4 refused")], "all failed"),
    });
    expect(errorToJson(fetchFailed)).toEqual({
      name: "TypeError",
      message: "fetch failed",
      cause: {
        name: "AggregateError",
        message: "all failed",
        errors: [
          { name: "Error", message: "ipv6 refused" },
          { name: "Error", message: "ipv4 refused" },
        ],
      },
    });
    const loop: Error & { cause?: unknown } = new Error("loop");
    loop.cause = loop;
    expect(errorToJson(loop)).toEqual({
      name: "Error",
      message: "loop",
      cause: { name: "Error", message: "loop" },
    });
    expect(errorToJson("plain text")).toBe("plain text");
  });

  it("EventValidationError extends it and keeps its shape", () => {
    const err = EventValidationError.fromZod(z.object({ price: z.number() }).safeParse({}).error!);
    expect(err).toBeInstanceOf(MarketScraperError);
    expect(err).toMatchObject({ code: "INVALID_EVENT", field: "price" });
    expect(err.cause).toBeInstanceOf(z.ZodError);
  });
});

describe("errorMessage", () => {
  it("is the message of an error, the text of a string, the JSON of anything else", () => {
    expect(errorMessage(new Error("boom"))).toBe("boom");
    expect(errorMessage("text")).toBe("text");
    expect(errorMessage({ code: 1 })).toBe('{"code":1}');
    expect(errorMessage(undefined)).toBe("undefined");
  });
});
