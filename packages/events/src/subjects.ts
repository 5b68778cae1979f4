import { EventValidationError } from "./errors.js";
import {
  EventType,
  MARKET_DATA_TYPES,
  SYSTEM_TYPES,
  isEventType,
  isMarketDataType,
  isSystemType,
} from "./event-type.js";
import type { StandardEvent } from "./standard-event.js";

/** The first token of a subject: which part of the pipeline an event belongs to (ARCHITECTURE §4). */
export const Stage = {
  MARKET: "market",
  PROCESSED: "processed",
  SYSTEM: "system",
  CUSTOM: "custom",
} as const;
export type Stage = (typeof Stage)[keyof typeof Stage];
export const STAGES: readonly Stage[] = Object.freeze(Object.values(Stage));

export const DEADLETTER_PREFIX = "deadletter";

/** Which event types may travel in each stage. */
export const STAGE_TYPES: Readonly<Record<Stage, readonly EventType[]>> = Object.freeze({
  market: MARKET_DATA_TYPES,
  processed: MARKET_DATA_TYPES,
  system: SYSTEM_TYPES,
  custom: [EventType.CUSTOM],
});

export function isStage(value: unknown): value is Stage {
  return typeof value === "string" && (STAGES as readonly string[]).includes(value);
}

function needsEscape(code: number): boolean {
  // % . * > are NATS-significant (or our escape char); control chars, space and non-ASCII whitespace
  // are illegal in subjects.
  return (
    code === 0x25 ||
    code === 0x2e ||
    code === 0x2a ||
    code === 0x3e ||
    code <= 0x20 ||
    code === 0x7f ||
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const UNSAFE = /[%.*>\s\u0000-\u001f\u007f\u0085\ufeff]/u;

/**
 * Escapes one subject token reversibly: `%` `.` `*` `>` and whitespace become `%25` `%2E` `%2A` `%3E`
 * `%20`… (percent-encoded UTF-8). `BTC-USD` and `PURR/USDC` are unchanged. The empty string, which is
 * not a legal token, is rejected.
 */
export function escapeToken(value: string): string {
  if (value.length === 0)
    throw new EventValidationError("INVALID_SUBJECT", [{ path: "", message: "empty token" }]);
  if (!UNSAFE.test(value)) return value;
  let out = "";
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (needsEscape(code)) {
      for (const byte of Buffer.from(ch, "utf8"))
        out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Inverse of `escapeToken`. Throws `EventValidationError` (`INVALID_SUBJECT`) on a malformed escape. */
export function unescapeToken(token: string): string {
  if (!token.includes("%")) return token;
  try {
    return decodeURIComponent(token);
  } catch (cause) {
    throw new EventValidationError(
      "INVALID_SUBJECT",
      [{ path: "", message: `bad escape in token '${token}'` }],
      {
        cause,
      },
    );
  }
}

/** The stage an event is published in: processors' output (`processed_at` set) goes to `processed`. */
export function stageOf(event: StandardEvent): Stage {
  if (isMarketDataType(event.event_type)) return event.processed_at ? Stage.PROCESSED : Stage.MARKET;
  if (event.event_type === EventType.CUSTOM) return Stage.CUSTOM;
  return Stage.SYSTEM;
}

/**
 * The subject an event is published on (ARCHITECTURE §4). Market data goes to `market.…` unless it has
 * been processed (`processed_at` set) or `stage` says otherwise.
 */
export function subjectFor(event: StandardEvent, stage: Stage = stageOf(event)): string {
  const source = escapeToken(event.source);
  switch (event.event_type) {
    case EventType.TRADE:
    case EventType.TICKER:
    case EventType.ORDER_BOOK:
    case EventType.OHLCV:
    case EventType.LIQUIDATION:
    case EventType.DERIVATIVE_TICKER: {
      if (stage !== Stage.MARKET && stage !== Stage.PROCESSED) {
        throw invalidSubject(`${event.event_type} events travel in market or processed, not ${stage}`);
      }
      return `${stage}.${event.event_type}.${source}.${escapeToken(event.payload.symbol)}`;
    }
    case EventType.CONNECTOR_STATUS:
    case EventType.HEARTBEAT:
    case EventType.ERROR:
      return `system.${event.event_type}.${source}`;
    case EventType.CUSTOM:
      return `custom.${source}.${escapeToken(event.payload.name)}`;
  }
}

export function deadLetterSubject(subject: string): string {
  return `${DEADLETTER_PREFIX}.${subject}`;
}

export type ParsedSubject =
  | { stage: "market" | "processed"; event_type: EventType; source: string; symbol: string }
  | { stage: "system"; event_type: EventType; source: string }
  | { stage: "custom"; event_type: "custom"; source: string; name: string }
  | { stage: "deadletter"; original: string; parsed: ParsedSubject | null };

function invalidSubject(message: string): EventValidationError {
  return new EventValidationError("INVALID_SUBJECT", [{ path: "", message }]);
}

/** Reverses `subjectFor`. Throws `EventValidationError` (`INVALID_SUBJECT`) naming what is wrong. */
export function parseSubject(subject: string): ParsedSubject {
  const tokens = subject.split(".");
  const [first] = tokens;
  if (first === DEADLETTER_PREFIX) {
    const original = tokens.slice(1).join(".");
    if (original.length === 0) throw invalidSubject(`'${subject}': deadletter without an original subject`);
    let parsed: ParsedSubject | null;
    try {
      parsed = parseSubject(original);
    } catch {
      parsed = null;
    }
    return { stage: "deadletter", original, parsed };
  }
  if (tokens.some((t) => t.length === 0)) throw invalidSubject(`'${subject}': empty token`);
  switch (first) {
    case undefined:
      throw invalidSubject("empty subject");
    case Stage.MARKET:
    case Stage.PROCESSED: {
      if (tokens.length !== 4)
        throw invalidSubject(`'${subject}': expected ${first}.<event_type>.<source>.<symbol>`);
      const type = tokens[1];
      if (!isEventType(type) || !isMarketDataType(type)) {
        throw invalidSubject(`'${subject}': '${type}' is not a market data event type`);
      }
      return {
        stage: first,
        event_type: type,
        source: unescapeToken(tokens[2]!),
        symbol: unescapeToken(tokens[3]!),
      };
    }
    case Stage.SYSTEM: {
      if (tokens.length !== 3) throw invalidSubject(`'${subject}': expected system.<event_type>.<source>`);
      const type = tokens[1];
      if (!isEventType(type) || !isSystemType(type)) {
        throw invalidSubject(`'${subject}': '${type}' is not a system event type`);
      }
      return { stage: Stage.SYSTEM, event_type: type, source: unescapeToken(tokens[2]!) };
    }
    case Stage.CUSTOM: {
      if (tokens.length !== 3) throw invalidSubject(`'${subject}': expected custom.<source>.<name>`);
      return {
        stage: Stage.CUSTOM,
        event_type: EventType.CUSTOM,
        source: unescapeToken(tokens[1]!),
        name: unescapeToken(tokens[2]!),
      };
    }
    default:
      throw invalidSubject(`'${subject}': unknown stage '${first}'`);
  }
}

/** True when `event` could have been published on `subject` (guards against mislabelled messages). */
export function subjectMatchesEvent(parsed: ParsedSubject, event: StandardEvent): boolean {
  if (parsed.stage === "deadletter") return false;
  if (parsed.event_type !== event.event_type || parsed.source !== event.source) return false;
  if (parsed.stage === "market" || parsed.stage === "processed") {
    return (event.payload as { symbol?: unknown }).symbol === parsed.symbol;
  }
  if (parsed.stage === "custom") return (event.payload as { name?: unknown }).name === parsed.name;
  return true;
}
