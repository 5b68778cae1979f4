import type { z } from "zod";

/**
 * An error as `toJSON` (and the runtime logger's `err.cause`) writes it: name, code, message and the
 * chain of causes, without stacks (a logged `err.stack` already holds every cause's stack).
 */
export interface ErrorJson {
  readonly name: string;
  readonly code?: string | number;
  readonly message: string;
  /** The errors of an `AggregateError` (e.g. one per address `fetch` tried). */
  readonly errors?: readonly unknown[];
  /** An `ErrorJson` for an `Error` cause; any other value as it was given. */
  readonly cause?: unknown;
}

const MAX_CAUSE_DEPTH = 8;

/**
 * `err` as an `ErrorJson`: for an `Error` (ours or anyone's), its name, `code` when it is a string or
 * number, message, aggregated errors and cause chain (at most 8 deep, cycles cut); any other value is
 * returned as it is (a string, an object someone threw).
 */
export function errorToJson(err: unknown): unknown {
  return toJson(err, 0, new Set());
}

function toJson(value: unknown, depth: number, seen: Set<unknown>): unknown {
  if (!(value instanceof Error)) return value;
  if (seen.has(value) || depth >= MAX_CAUSE_DEPTH) return { name: value.name, message: value.message };
  seen.add(value);
  const { code } = value as { code?: unknown };
  const json: { -readonly [K in keyof ErrorJson]: ErrorJson[K] } = {
    name: value.name,
    message: value.message,
  };
  if (typeof code === "string" || typeof code === "number") json.code = code;
  if (value instanceof AggregateError && Array.isArray(value.errors)) {
    json.errors = value.errors.map((e: unknown) => toJson(e, depth + 1, seen));
  }
  if (value.cause !== undefined) json.cause = toJson(value.cause, depth + 1, seen);
  return json;
}

/** The message of anything thrown, for text that must be a string (error events, HTTP bodies). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === "string" ? err : (JSON.stringify(err) ?? String(err));
}

/**
 * The base of every error class of the project: a `code` from the class's closed set, the ES2022
 * `cause`, and `toJSON()` (name, code, message, cause chain) so an error nested in a log field or a
 * JSON body reads as more than `{}`. Log errors as `{ err }`: the runtime logger writes the stack too.
 */
export class MarketScraperError<Code extends string | number = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  toJSON(): ErrorJson {
    return errorToJson(this) as ErrorJson;
  }
}

export type EventErrorCode = "INVALID_JSON" | "INVALID_EVENT" | "INVALID_SUBJECT";

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `payload.price`; `""` for the whole message. */
  readonly path: string;
  readonly message: string;
}

/** A message that is not a valid `StandardEvent`: names every bad field. */
export class EventValidationError extends MarketScraperError<EventErrorCode> {
  override readonly name = "EventValidationError";
  readonly issues: readonly FieldIssue[];

  constructor(code: EventErrorCode, issues: readonly FieldIssue[], options?: { cause?: unknown }) {
    super(code, `${describeCode(code)}: ${issues.map(formatIssue).join("; ")}`, options);
    this.issues = issues;
  }

  /** The first bad field (`payload.price`), or `""` when the whole message is bad. */
  get field(): string {
    return this.issues[0]?.path ?? "";
  }

  static fromZod(error: z.ZodError): EventValidationError {
    return new EventValidationError(
      "INVALID_EVENT",
      error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message })),
      { cause: error },
    );
  }
}

function describeCode(code: EventErrorCode): string {
  switch (code) {
    case "INVALID_JSON":
      return "invalid JSON";
    case "INVALID_EVENT":
      return "invalid event";
    case "INVALID_SUBJECT":
      return "invalid subject";
  }
}

function formatIssue(issue: FieldIssue): string {
  return issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`;
}
