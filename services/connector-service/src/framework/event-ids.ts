import { createHash } from "node:crypto";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const TWO_48 = 2 ** 48;
const TWO_50 = 2 ** 50;

/** FNV-1a, 32 bits: a cheap, stable hash of short strings (symbol names). */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const HEX_CODES = Array.from({ length: 16 }, (_, i) => i.toString(16).charCodeAt(0));

/**
 * 12 hex digits of a 48-bit integer, as one string built in one go (string joins and big lookup
 * tables were both measured slower: this runs once per trade).
 */
function hex48(value: number): string {
  const hi = Math.floor(value / 0x1000000); // top 24 bits
  const lo = value - hi * 0x1000000; // low 24 bits
  const c = HEX_CODES;
  return String.fromCharCode(
    c[hi >>> 20]!,
    c[(hi >>> 16) & 15]!,
    c[(hi >>> 12) & 15]!,
    c[(hi >>> 8) & 15]!,
    c[(hi >>> 4) & 15]!,
    c[hi & 15]!,
    c[lo >>> 20]!,
    c[(lo >>> 16) & 15]!,
    c[(lo >>> 12) & 15]!,
    c[(lo >>> 8) & 15]!,
    c[(lo >>> 4) & 15]!,
    c[lo & 15]!,
  );
}

/** The first two groups of a deterministic id: 48 bits of time in ms, `xxxxxxxx-xxxx`. */
export function timeIdPrefix(timeMs: number): string {
  const t = hex48(timeMs);
  return t.slice(0, 8) + "-" + t.slice(8);
}

/**
 * The middle of a deterministic id for one stream, one string per value of the exchange id's top two
 * bits: `-8hhh-vvvv-` (version 8, then the RFC 9562 variant).
 */
export function streamIdInfixes(streamHash: number): readonly [string, string, string, string] {
  const h = streamHash & 0xffffff;
  const version = `-8${(h >>> 12).toString(16).padStart(3, "0")}-`;
  const infix = (idHigh: number): string => {
    const variant = 0x8000 | ((h & 0xfff) << 2) | idHigh;
    return `${version}${HEX[variant >>> 8]!}${HEX[variant & 0xff]!}-`;
  };
  return [infix(0), infix(1), infix(2), infix(3)];
}

/** True when `(timeMs, id)` fits the fast layout of `deterministicEventId`. */
export function fitsDeterministicId(timeMs: number, id: number): boolean {
  return (
    id >= 0 &&
    id < TWO_50 &&
    Number.isInteger(id) &&
    timeMs >= 0 &&
    timeMs < TWO_48 &&
    Number.isInteger(timeMs)
  );
}

/**
 * A deterministic, time-ordered event id (an RFC 9562 UUIDv8) for a record the exchange identifies by
 * `(time, stream, id)`: 48 bits of exchange time in ms (so ids sort like UUIDv7), 24 bits of
 * `streamHash` (FNV-1a of source + symbol, see `fnv1a32`) and the 50-bit exchange id. The same trade
 * re-sent after a reconnect or a restart gets the same event id, so JetStream's duplicate window and
 * storage's key drop it too. Ids of 2^50 and above (never seen on Hyperliquid) fall back to a SHA-1.
 */
export function deterministicEventId(timeMs: number, streamHash: number, id: number): string {
  if (!fitsDeterministicId(timeMs, id)) return hashedEventId(`${timeMs}|${streamHash}|${id}`);
  const idHigh = Math.floor(id / TWO_48);
  return timeIdPrefix(timeMs) + streamIdInfixes(streamHash)[idHigh]! + hex48(id - idHigh * TWO_48);
}

/**
 * The start of a `mixNumber` chain (the FNV-1a offset basis). A record the exchange sends without an id of
 * its own (a book snapshot, a ticker, an open candle) gets `deterministicEventId(exchange time, stream,
 * content hash)`: what the exchange sent twice (a replay, an overlap, a re-sent snapshot) gets the same id,
 * so storage keeps it once.
 */
export const HASH_SEED = 0x811c9dc5;
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

/**
 * Mixes the 64 bits of a number into a 32-bit FNV-style hash, word by word: content hashes of books and
 * tickers without turning their numbers into strings (that cost a book frame half its parse speed).
 */
export function mixNumber(hash: number, value: number): number {
  F64[0] = value;
  return Math.imul(Math.imul(hash ^ U32[0]!, 0x01000193) ^ U32[1]!, 0x01000193) >>> 0;
}

/** The last group of a deterministic id: the low 48 bits of the exchange id. */
export function idSuffix(id: number): string {
  return hex48(id - Math.floor(id / TWO_48) * TWO_48);
}

export const ID_HIGH_DIVISOR = TWO_48;

/** A UUIDv8 from the SHA-1 of `key` (slow path for ids that do not fit the fast layout). */
export function hashedEventId(key: string): string {
  const digest = createHash("sha1").update(key).digest();
  digest[6] = (digest[6]! & 0x0f) | 0x80;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
