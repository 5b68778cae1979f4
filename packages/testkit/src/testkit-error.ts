import { MarketScraperError } from "@market-scraper/events";

/** Why a harness call failed. */
export type TestkitErrorCode =
  /** No way to provide the server: no env URL, no local binary or server, no container runtime. */
  | "NO_BACKEND"
  /** A server was found or spawned but did not become ready in time, or exited while starting. */
  | "START_FAILED"
  /** Fault injection (`restart`/`kill`/`start`) on a server the harness does not own. */
  | "NOT_OWNED"
  /** A harness setting (an option or its environment variable) has a value it does not take. */
  | "BAD_OPTION"
  /** `waitFor` ran out of time. */
  | "WAIT_TIMEOUT";

export class TestkitError extends MarketScraperError<TestkitErrorCode> {
  override readonly name = "TestkitError";
}

/** A one-line description of any thrown value, for error messages. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
