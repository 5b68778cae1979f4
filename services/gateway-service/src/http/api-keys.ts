import { createHash, timingSafeEqual } from "node:crypto";
import type { ApiKey } from "../config.js";

/** The identity a request is rate-limited under: a key's fingerprint, or the client address when open. */
export interface Caller {
  readonly id: string;
  readonly rateLimit: number | null;
}

export type KeyCheck =
  { kind: "open" } | { kind: "ok"; caller: Caller } | { kind: "missing" } | { kind: "invalid" };

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * The API keys of `GATEWAY_API_KEYS`, compared in constant time (over SHA-256 digests, so the length
 * of a guess reveals nothing). Keys are never logged: a caller is known by a short fingerprint.
 */
export class ApiKeys {
  readonly #keys: { digest: Buffer; caller: Caller }[];

  constructor(keys: readonly ApiKey[]) {
    this.#keys = keys.map((k) => {
      const d = digest(k.key);
      return { digest: d, caller: { id: `key:${d.subarray(0, 6).toString("hex")}`, rateLimit: k.rateLimit } };
    });
  }

  get open(): boolean {
    return this.#keys.length === 0;
  }

  check(presented: string | undefined): KeyCheck {
    if (this.open) return { kind: "open" };
    if (presented === undefined || presented === "") return { kind: "missing" };
    const d = digest(presented);
    let match: Caller | undefined;
    // Compare with every key, so the time taken does not tell which one matched.
    for (const key of this.#keys) if (timingSafeEqual(key.digest, d)) match = key.caller;
    return match === undefined ? { kind: "invalid" } : { kind: "ok", caller: match };
  }
}

/** The key a request presents: `Authorization: Bearer <key>`, `x-api-key: <key>`, or (streams) `api_key`. */
export function presentedKey(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  queryKey: string | undefined,
): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === "string") {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match !== null) return match[1];
  }
  const header = headers["x-api-key"];
  if (typeof header === "string" && header !== "") return header.trim();
  return queryKey;
}
