import type { z } from "zod";
import { GatewayError } from "./gateway-error.js";

export type InputKind = "query parameter" | "path parameter";

/**
 * Validates a query string or path parameters against a strict schema; on failure throws a 400
 * `BAD_REQUEST` naming the first bad parameter (`query parameter 'limit' must be at most 1000`).
 */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown, kind: InputKind): z.output<S> {
  const value = raw ?? {};
  if (typeof value === "object") {
    for (const [name, item] of Object.entries(value)) {
      if (Array.isArray(item))
        throw new GatewayError("BAD_REQUEST", `${kind} '${name}' is given more than once`);
    }
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw new GatewayError("BAD_REQUEST", `invalid ${kind}s`);
  if (issue.code === "unrecognized_keys") {
    throw new GatewayError("BAD_REQUEST", `unknown ${kind} '${issue.keys[0] ?? "?"}'`);
  }
  const name = issue.path.length > 0 ? String(issue.path[0]) : "?";
  throw new GatewayError("BAD_REQUEST", `${kind} '${name}' ${issue.message}`);
}

type Compact<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

/** A copy without the `undefined` values (strict storage schemas and `exactOptionalPropertyTypes`). */
export function compact<T extends Record<string, unknown>>(value: T): Compact<T> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = item;
  return out as Compact<T>;
}
