const DAY_MS = 86_400_000;
const PAD2 = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, "0"));
const PAD3Z = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(3, "0")}Z`);

/**
 * `new Date(ms).toISOString()` for the times of market data, many times faster: the text up to the
 * second is built once per second (frames of one second share it) from a date part made once per UTC
 * day, and the milliseconds come from a table. Outside year 0-9999 (where `toISOString` changes format)
 * and for fractional ms it falls back to `Date`.
 */
export class IsoFormatter {
  #day = Number.NaN;
  #dayPrefix = "";
  #second = Number.NaN;
  #secondPrefix = "";

  format(ms: number): string {
    // No `%` on these doubles: above 2^31 V8 computes it with a slow fmod call.
    if (!(ms >= 0 && ms < 253_402_300_800_000) || Math.floor(ms) !== ms) return new Date(ms).toISOString();
    const second = Math.floor(ms / 1000);
    const milli = ms - second * 1000;
    if (second !== this.#second) this.#newSecond(second);
    return this.#secondPrefix + PAD3Z[milli]!;
  }

  #newSecond(second: number): void {
    this.#second = second;
    const day = Math.floor(second / 86_400);
    if (day !== this.#day) {
      this.#day = day;
      this.#dayPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    }
    let rest = second - day * 86_400;
    const sec = rest % 60;
    rest = (rest - sec) / 60;
    const min = rest % 60;
    const hour = (rest - min) / 60;
    this.#secondPrefix = `${this.#dayPrefix}${PAD2[hour]!}:${PAD2[min]!}:${PAD2[sec]!}.`;
  }
}

const PAD4 = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, "0"));
const PLAIN4 = Array.from({ length: 10_000 }, (_, i) => String(i));

/**
 * `String(n)` for a safe non-negative integer. V8 formats numbers above 2^31 slowly; this joins
 * four-digit groups from tables instead (a trade id per trade is on the hot path).
 */
export function integerToString(n: number): string {
  if (n < 10_000) return PLAIN4[n] ?? String(n);
  if (!(n <= Number.MAX_SAFE_INTEGER) || Math.floor(n) !== n) return String(n);
  // Split into two parts below 2^31 so the rest is integer arithmetic (a float `%` is a slow fmod).
  const hi = Math.floor(n / 100_000_000) | 0; // < 2^27: int32 from here on
  const lo = (n - hi * 100_000_000) | 0;
  const lo2 = lo % 10_000;
  const lo1 = (lo - lo2) / 10_000;
  if (hi === 0) return PLAIN4[lo1]! + PAD4[lo2]!;
  const hi2 = hi % 10_000;
  const hi1 = (hi - hi2) / 10_000;
  if (hi1 === 0) return PLAIN4[hi2]! + PAD4[lo1]! + PAD4[lo2]!;
  return PLAIN4[hi1]! + PAD4[hi2]! + PAD4[lo1]! + PAD4[lo2]!;
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * A decimal string such as `"84143.5"` → number, exactly as `Number(text)` would (a mantissa of at
 * most 15 digits divided by an exact power of ten is correctly rounded), without V8's slower generic
 * conversion. Anything else (signs, exponents, long mantissas) goes to `Number`. `""` → NaN.
 */
export function decimalToNumber(text: string): number {
  const len = text.length;
  if (len === 0) return Number.NaN;
  let mantissa = 0;
  let dot = -1;
  let digits = 0;
  for (let i = 0; i < len; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits += 1;
    } else if (c === 46 && dot < 0) dot = i;
    else return Number(text);
  }
  if (digits === 0 || digits > 15) return Number(text);
  return dot < 0 ? mantissa : mantissa / POW10[len - dot - 1]!;
}
