/** Summary statistics for the benchmark: percentiles of latency samples and medians of repeated runs. */

/**
 * The `p`-th percentile (0–100) of values sorted ascending, interpolating linearly between the two
 * closest ranks (the "R-7" / Excel `PERCENTILE.INC` definition). `NaN` for no values.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  if (lo === hi) return a;
  return a + (sorted[hi]! - a) * (rank - lo);
}

/** The median of unsorted values (the mean of the middle two for an even count). `NaN` for none. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => !Number.isNaN(v));
  if (finite.length === 0) return Number.NaN;
  return percentile(
    [...finite].sort((a, b) => a - b),
    50,
  );
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Summarizes the first `count` samples (default: all) without changing them. */
export function summarize(samples: Float64Array, count = samples.length): LatencySummary {
  const n = Math.max(0, Math.min(count, samples.length));
  const sorted = samples.slice(0, n).sort(); // typed-array sort is numeric
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    count: n,
    mean: n === 0 ? Number.NaN : sum / n,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: n === 0 ? Number.NaN : sorted[n - 1]!,
  };
}
