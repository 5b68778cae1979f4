import type { z } from "zod";

export type EventErrorCode = "INVALID_JSON" | "INVALID_EVENT" | "INVALID_SUBJECT";

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `payload.price`; `""` for the whole message. */
  readonly path: string;
  readonly message: string;
}

/** A message that is not a valid `StandardEvent`: names every bad field. */
export class EventValidationError extends Error {
  override readonly name = "EventValidationError";
  readonly code: EventErrorCode;
  readonly issues: readonly FieldIssue[];

  constructor(code: EventErrorCode, issues: readonly FieldIssue[], options?: { cause?: unknown }) {
    super(`${describeCode(code)}: ${issues.map(formatIssue).join("; ")}`, options);
    this.code = code;
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
