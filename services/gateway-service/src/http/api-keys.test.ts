import { describe, expect, it } from "vitest";
import { ApiKeys, presentedKey } from "./api-keys.js";

describe("ApiKeys", () => {
  it("is open without keys", () => {
    expect(new ApiKeys([]).check(undefined)).toEqual({ kind: "open" });
  });

  it("tells missing, invalid and valid keys apart, and names callers without the key", () => {
    const keys = new ApiKeys([
      { key: "first-key-123", rateLimit: null },
      { key: "second-key-456", rateLimit: 10 },
    ]);
    expect(keys.check(undefined)).toEqual({ kind: "missing" });
    expect(keys.check("")).toEqual({ kind: "missing" });
    expect(keys.check("first-key-12")).toEqual({ kind: "invalid" });
    const ok = keys.check("second-key-456");
    expect(ok).toMatchObject({ kind: "ok", caller: { rateLimit: 10 } });
    const id = ok.kind === "ok" ? ok.caller.id : "";
    expect(id).toMatch(/^key:[0-9a-f]{12}$/);
    expect(id).not.toContain("second");
  });
});

describe("presentedKey", () => {
  it("reads Bearer, then x-api-key, then the query", () => {
    expect(presentedKey({ authorization: "Bearer abc" }, "q")).toBe("abc");
    expect(presentedKey({ authorization: "bearer   abc " }, undefined)).toBe("abc");
    expect(presentedKey({ authorization: "Basic xyz", "x-api-key": "k" }, undefined)).toBe("k");
    expect(presentedKey({}, "q")).toBe("q");
    expect(presentedKey({}, undefined)).toBeUndefined();
  });
});
