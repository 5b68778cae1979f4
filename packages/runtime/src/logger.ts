import { hostname } from "node:os";
import { errorToJson } from "@market-scraper/events";
import { pino, type DestinationStream, type Logger } from "pino";
import type { LogLevel } from "./config.js";
import { redactSecrets } from "./redact.js";

export type { Logger } from "pino";

export interface CreateLoggerOptions {
  /** The service name, on every line as `service`. */
  service: string;
  level?: LogLevel;
  /** Where JSON lines go; default stdout, written synchronously. */
  destination?: DestinationStream;
  /** On every line as `instance`; default `<hostname>-<pid>`. */
  instance?: string;
}

/**
 * The process's one root logger: JSON lines with `service`, `instance`, ISO `time`, a string `level`,
 * and errors logged as `{ err }` (see `serializeError`: type, code, message, stack and cause chain).
 * Parts of the service take
 * `logger.child({ component })`. Every line goes out with URL credentials redacted (`redactSecrets`:
 * `postgres://u:***@h`, `?token=***`), wherever they are: message, fields, or an error's message and stack.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const loggerOptions = {
    level: options.level ?? "info",
    base: { service: options.service, instance: options.instance ?? `${hostname()}-${process.pid}` },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
    formatters: { level: (label: string) => ({ level: label }) },
    hooks: { streamWrite: redactSecrets },
  };
  // Synchronous writes by default: an async stdout writer can reorder or lose the last lines when the
  // process exits right after a shutdown, which is when they matter most. Services log little.
  return pino(loggerOptions, options.destination ?? pino.destination({ dest: 1, sync: true }));
}

/**
 * The `err` of a log line: pino's standard serializer (`type`; `message` and `stack` with every cause
 * appended, `caused by: …`; the error's own fields such as `code`), plus `cause`: the cause chain as
 * data (name, code, message per level, see `errorToJson`), so a line can be filtered on
 * `err.cause.code`. Not `pino.stdSerializers.errWithCause`: it writes the stack again for every cause
 * and leaves out causes that are not errors, and its `message` loses the causes a reader scans for.
 */
export function serializeError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error) as unknown;
  if (!(err instanceof Error) || err.cause === undefined) return serialized;
  return Object.assign(serialized as object, { cause: (errorToJson(err) as { cause?: unknown }).cause });
}
