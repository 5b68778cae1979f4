import { MarketScraperError } from "@market-scraper/events";

/**
 * Exact decimal arithmetic for sums of market quantities: a value is `mantissa × 10^-scale` with a
 * BigInt mantissa. Floating-point sums drift (0.1 + 0.2 !== 0.3); candle volumes must be the correctly
 * rounded value of the exact sum of the trades' decimal volumes.
 *
 * A JSON number is read as the decimal it was written as: the shortest string that round-trips
 * (`String(x)`), which is what an exchange sent ("0.1" → 0.1 → "0.1"), not the binary expansion of the
 * double.
 */
export interface Decimal {
  readonly mantissa: bigint;
  readonly scale: number;
}

export const ZERO: Decimal = Object.freeze({ mantissa: 0n, scale: 0 });

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;
const POW10: bigint[] = [];
function pow10(n: number): bigint {
  if (n < 64) {
    let v = POW10[n];
    if (v === undefined) {
      v = 10n ** BigInt(n);
      POW10[n] = v;
    }
    return v;
  }
  return 10n ** BigInt(n);
}

/** Text or a number that is not a finite decimal (or a corrupt serialized one). */
export class DecimalError extends MarketScraperError<"INVALID_DECIMAL"> {
  override readonly name = "DecimalError";

  constructor(message: string, options?: { cause?: unknown }) {
    super("INVALID_DECIMAL", message, options);
  }
}

/** Parses a decimal string (`-12.5`, `1e-7`, `1.5E+21`). Throws `DecimalError` on anything else. */
export function parseDecimal(text: string): Decimal {
  const m = NUMBER.exec(text);
  if (!m) throw new DecimalError(`not a decimal number: '${text}'`);
  const [, sign, int, frac = "", exp = "0"] = m;
  let mantissa = BigInt(`${int}${frac}`);
  if (sign === "-") mantissa = -mantissa;
  let scale = frac.length - Number(exp);
  if (scale < 0) {
    mantissa *= pow10(-scale);
    scale = 0;
  }
  return normalize({ mantissa, scale });
}

/** The decimal a finite JSON number was written as. Throws `DecimalError` for NaN and ±Infinity. */
export function fromNumber(value: number): Decimal {
  if (!Number.isFinite(value)) throw new DecimalError(`not a finite number: ${value}`);
  if (Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER) {
    return { mantissa: BigInt(value), scale: 0 };
  }
  return parseDecimal(String(value));
}

/** Drops trailing zeros of the fraction so equal values have one representation. */
function normalize(d: Decimal): Decimal {
  let { mantissa, scale } = d;
  if (mantissa === 0n) return ZERO;
  while (scale > 0 && mantissa % 10n === 0n) {
    mantissa /= 10n;
    scale--;
  }
  return { mantissa, scale };
}

export function add(a: Decimal, b: Decimal): Decimal {
  if (a.scale === b.scale) return { mantissa: a.mantissa + b.mantissa, scale: a.scale };
  if (a.scale > b.scale)
    return { mantissa: a.mantissa + b.mantissa * pow10(a.scale - b.scale), scale: a.scale };
  return { mantissa: a.mantissa * pow10(b.scale - a.scale) + b.mantissa, scale: b.scale };
}

export function sub(a: Decimal, b: Decimal): Decimal {
  return add(a, { mantissa: -b.mantissa, scale: b.scale });
}

/** Exactly half of `a` (one more decimal digit: x / 2 = 5x / 10). */
export function half(a: Decimal): Decimal {
  return normalize({ mantissa: a.mantissa * 5n, scale: a.scale + 1 });
}

export function compare(a: Decimal, b: Decimal): number {
  const d = sub(a, b).mantissa;
  return d === 0n ? 0 : d < 0n ? -1 : 1;
}

/** The exact value as a plain decimal string (no exponent), e.g. `1250.5`. */
export function toDecimalString(d: Decimal): string {
  const n = normalize(d);
  if (n.scale === 0) return n.mantissa.toString();
  const negative = n.mantissa < 0n;
  const digits = (negative ? -n.mantissa : n.mantissa).toString().padStart(n.scale + 1, "0");
  const cut = digits.length - n.scale;
  return `${negative ? "-" : ""}${digits.slice(0, cut)}.${digits.slice(cut)}`;
}

/**
 * The double nearest to the exact value (ties to even). V8's string-to-number conversion rounds
 * correctly for any number of digits, so going through the exact decimal string is exact.
 */
export function toNumber(d: Decimal): number {
  return Number(toDecimalString(d));
}

/** A compact string form for checkpoints: `<mantissa>e-<scale>`. */
export function serialize(d: Decimal): string {
  return `${d.mantissa}e-${d.scale}`;
}

export function deserialize(text: string): Decimal {
  const at = text.indexOf("e-");
  if (at < 0) throw new DecimalError(`bad serialized decimal '${text}'`);
  const scale = Number(text.slice(at + 2));
  if (!Number.isInteger(scale) || scale < 0) throw new DecimalError(`bad serialized decimal '${text}'`);
  return { mantissa: BigInt(text.slice(0, at)), scale };
}
