import { randomFillSync } from "node:crypto";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
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

/**
 * A UUID version 7 (RFC 9562): 48-bit Unix milliseconds, then random bits, so ids sort by creation
 * time. Random bytes come from a pooled CSPRNG buffer because per-call `getRandomValues` dominates cost.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const o = randomBytes10();
  const ms = Math.max(0, Math.floor(nowMs));
  const hi = Math.floor(ms / 0x1000000); // upper 24 bits of the 48-bit time
  const lo = ms % 0x1000000;
  return (
    HEX[(hi >>> 16) & 0xff]! +
    HEX[(hi >>> 8) & 0xff]! +
    HEX[hi & 0xff]! +
    HEX[(lo >>> 16) & 0xff]! +
    "-" +
    HEX[(lo >>> 8) & 0xff]! +
    HEX[lo & 0xff]! +
    "-" +
    HEX[0x70 | (pool[o]! & 0x0f)]! +
    HEX[pool[o + 1]!]! +
    "-" +
    HEX[0x80 | (pool[o + 2]! & 0x3f)]! +
    HEX[pool[o + 3]!]! +
    "-" +
    HEX[pool[o + 4]!]! +
    HEX[pool[o + 5]!]! +
    HEX[pool[o + 6]!]! +
    HEX[pool[o + 7]!]! +
    HEX[pool[o + 8]!]! +
    HEX[pool[o + 9]!]!
  );
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** The Unix milliseconds in a UUID version 7, or `undefined` for any other id. */
export function uuidv7Time(id: string): number | undefined {
  if (!UUID_V7.test(id)) return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
