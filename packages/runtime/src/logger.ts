import { hostname } from "node:os";
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
 * and errors logged as `{ err }` serialized with message, type and stack. Parts of the service take
 * `logger.child({ component })`. Every line goes out with URL credentials redacted (`redactSecrets`:
 * `postgres://u:***@h`, `?token=***`), wherever they are: message, fields, or an error's message and stack.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const loggerOptions = {
    level: options.level ?? "info",
    base: { service: options.service, instance: options.instance ?? `${hostname()}-${process.pid}` },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: pino.stdSerializers.err },
    formatters: { level: (label: string) => ({ level: label }) },
    hooks: { streamWrite: redactSecrets },
  };
  // Synchronous writes by default: an async stdout writer can reorder or lose the last lines when the
  // process exits right after a shutdown, which is when they matter most. Services log little.
  return pino(loggerOptions, options.destination ?? pino.destination({ dest: 1, sync: true }));
}
