import { MarketScraperError } from "@market-scraper/events";

/** The closed set of configuration error codes. */
export type ConfigErrorCode = "INVALID_CONFIG";

/** One bad environment variable: its name, what was expected, and the raw value (redacted for secrets). */
export interface ConfigIssue {
  readonly variable: string;
  readonly message: string;
  /**
   * The raw value as found in the environment, with URL credentials redacted (`u:***@h`);
   * `undefined` when unset; `"[redacted]"` for secrets.
   */
  readonly received: string | undefined;
}

/** Thrown by `parseEnv` when one or more environment variables are missing or invalid. */
export class ConfigError extends MarketScraperError<ConfigErrorCode> {
  override readonly name = "ConfigError";
  /** One entry per bad variable, in schema order. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(
      "INVALID_CONFIG",
      `invalid configuration:\n${issues.map((issue) => `  ${formatConfigIssue(issue)}`).join("\n")}`,
      options,
    );
    this.issues = issues;
  }
}

/** `HTTP_PORT: expected an integer port 1-65535, got "abc"`: the line `loadConfig` prints per bad variable. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const got = issue.received === undefined ? "not set" : `got ${JSON.stringify(issue.received)}`;
  return `${issue.variable}: ${issue.message}, ${got}`;
}
