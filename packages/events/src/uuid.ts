import { randomFillSync } from "node:crypto";

const POOL_SIZE = 16 * 1024;
const pool = new Uint8Array(POOL_SIZE);
let poolOffset = POOL_SIZE;

function randomBytes10(): number {
  if (poolOffset + 10 > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const offset = poolOffset;
  poolOffset += 10;
  return offset;
}

/** ASCII codes of the two hex digits of each byte: `HEX_CODES[2 * b]`, `HEX_CODES[2 * b + 1]`. */
const HEX_CODES = Buffer.from(
  Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0")).join(""),
  "latin1",
);
/** The id is written here as ASCII, dashes in place, and read out as one flat string. */
const text = Buffer.from("00000000-0000-0000-0000-000000000000", "latin1");

function putByte(at: number, byte: number): void {
  text[at] = HEX_CODES[2 * byte]!;
  text[at + 1] = HEX_CODES[2 * byte + 1]!;
}

/**
 * A UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits, so ids sort by creation
 * time. Random bytes come from a pooled CSPRNG buffer because per-call `getRandomValues` dominates cost.
 * The text is written as bytes and decoded once: a string joined from 20 pieces costs more to flatten
 * later (the schema's pattern check, `JSON.stringify`) than to build.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const o = randomBytes10();
  const ms = Math.max(0, Math.floor(nowMs));
  const hi = Math.floor(ms / 0x1000000); // upper 24 bits of the 48-bit time
  const lo = ms % 0x1000000;
  putByte(0, (hi >>> 16) & 0xff);
  putByte(2, (hi >>> 8) & 0xff);
  putByte(4, hi & 0xff);
  putByte(6, (lo >>> 16) & 0xff);
  putByte(9, (lo >>> 8) & 0xff);
  putByte(11, lo & 0xff);
  putByte(14, 0x70 | (pool[o]! & 0x0f));
  putByte(16, pool[o + 1]!);
  putByte(19, 0x80 | (pool[o + 2]! & 0x3f));
  putByte(21, pool[o + 3]!);
  putByte(24, pool[o + 4]!);
  putByte(26, pool[o + 5]!);
  putByte(28, pool[o + 6]!);
  putByte(30, pool[o + 7]!);
  putByte(32, pool[o + 8]!);
  putByte(34, pool[o + 9]!);
  return text.toString("latin1", 0, 36);
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** The Unix milliseconds in a UUID version 7, or `undefined` for any other id. */
export function uuidv7Time(id: string): number | undefined {
  if (!UUID_V7.test(id)) return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
