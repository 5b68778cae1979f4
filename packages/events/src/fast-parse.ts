/**
 * A hand-written check of the commonest message, a trade event, that gives what the zod schema gives
 * (the same object: known keys in schema order, then unknown keys in input order) in a tenth of the
 * time. It only ever says yes when zod would: anything it is not sure of (another event type, a
 * value of the wrong type, a string near a length limit, a key present with `undefined`, an object
 * that is not plain, a `__proto__` key) returns `undefined`, and the caller asks zod, whose answer and
 * error messages are then the ones given. A test compares both on every field with every kind of value.
 */

export interface TradeFastPathSpec {
  /** The trade event schema's keys, in its order. */
  readonly eventKeys: readonly string[];
  /** The trade payload schema's keys, in its order. */
  readonly payloadKeys: readonly string[];
  /** The pattern zod's `z.iso.datetime()` checks. */
  readonly isoPattern: RegExp;
  /** The pattern zod's `z.guid()` checks. */
  readonly guidPattern: RegExp;
}

type Plain = Record<string, unknown>;

/** Longest string taken without asking zod: zod's `max(128)` counts code points, not UTF-16 units. */
const MAX_SAFE_LENGTH = 128;

function isPlain(value: unknown): value is Plain {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isNonEmptyString = (v: unknown): v is string => typeof v === "string" && v.length > 0;

/**
 * Own keys of `input`, or -1 when one holds `undefined` or is `__proto__` (which a copy would not keep
 * as a key). `for…in` sees own keys only here: plain objects inherit no enumerable ones.
 */
function keyCount(input: Plain): number {
  let n = 0;
  for (const key in input) {
    if (input[key] === undefined || key === "__proto__") return -1;
    n++;
  }
  return n;
}

type Copier = (input: Plain, count: number) => Plain;

/**
 * A function copying `input` (`count` own keys) with `known` keys first (those present), then the
 * others in input order. It is generated with the keys written out (`out["price"] = v`), so every copy
 * builds objects of one shape through V8's fast property stores; a loop over key names did not.
 */
function copierFor(known: readonly string[]): Copier {
  const knownSet = new Set(known);
  const body = known
    .map((key) => {
      const k = JSON.stringify(key);
      return `v = input[${k}]; if (v !== undefined) { out[${k}] = v; copied++; }`;
    })
    .join("\n");
  // The source is built from our own schema's key names (JSON-quoted), never from input.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const copyKnown = new Function(
    "input",
    `const out = {}; let copied = 0; let v;\n${body}\nreturn [out, copied];`,
  ) as (input: Plain) => [Plain, number];
  return (input, count) => {
    const [out, copied] = copyKnown(input);
    if (copied < count) for (const key in input) if (!knownSet.has(key)) out[key] = input[key];
    return out;
  };
}

/** Returns the fast path: the parsed trade event, or `undefined` to ask zod. */
export function createTradeFastPath(spec: TradeFastPathSpec): (value: unknown) => Plain | undefined {
  const { eventKeys, payloadKeys, isoPattern, guidPattern } = spec;
  const copyEvent = copierFor(eventKeys);
  const copyPayload = copierFor(payloadKeys);
  const isIso = (v: unknown): boolean => typeof v === "string" && isoPattern.test(v);
  const isOptionalIso = (o: Plain, key: string) => o[key] === undefined || isIso(o[key]);
  const isOptionalNullableIso = (o: Plain, key: string) =>
    o[key] === undefined || o[key] === null || isIso(o[key]);
  const isOptionalNullableString = (o: Plain, key: string) =>
    o[key] === undefined || o[key] === null || isNonEmptyString(o[key]);

  return (value: unknown) => {
    if (!isPlain(value) || value.event_type !== "trade") return undefined;
    const e = value;
    const eventKeyCount = keyCount(e);
    if (eventKeyCount < 0) return undefined;
    const { event_id, source, priority, processing_time_ms } = e;
    if (typeof event_id !== "string" || !guidPattern.test(event_id)) return undefined;
    if (!isIso(e.timestamp)) return undefined;
    if (!isNonEmptyString(source) || source.length > MAX_SAFE_LENGTH) return undefined;
    if (!isOptionalNullableString(e, "correlation_id") || !isOptionalNullableString(e, "parent_event_id"))
      return undefined;
    if (
      priority !== undefined &&
      !(typeof priority === "number" && Number.isSafeInteger(priority) && priority >= 1 && priority <= 10)
    )
      return undefined;
    if (!isOptionalNullableIso(e, "processed_at")) return undefined;
    if (
      processing_time_ms !== undefined &&
      processing_time_ms !== null &&
      !isFiniteNumber(processing_time_ms)
    )
      return undefined;

    const p = e.payload;
    if (!isPlain(p)) return undefined;
    const payloadKeyCount = keyCount(p);
    if (payloadKeyCount < 0) return undefined;
    const { symbol, side } = p;
    if (!isNonEmptyString(symbol) || symbol.length > MAX_SAFE_LENGTH) return undefined;
    if (p.raw_symbol !== undefined && !isNonEmptyString(p.raw_symbol)) return undefined;
    if (!isOptionalIso(p, "received_at")) return undefined;
    if (!isFiniteNumber(p.price) || !isFiniteNumber(p.volume) || !isIso(p.timestamp)) return undefined;
    if (side !== undefined && side !== "buy" && side !== "sell") return undefined;
    if (p.trade_id !== undefined && !isNonEmptyString(p.trade_id)) return undefined;

    const out = copyEvent(e, eventKeyCount);
    out.payload = copyPayload(p, payloadKeyCount);
    return out;
  };
}
