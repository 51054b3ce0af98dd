/** Small statistics helpers for the benchmarks: percentiles, median and spread of repeated runs. */

/** Nearest-rank percentile (q in 0..1) of the values (any order). */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median with the smallest and largest of the runs: what RESULTS.md shows for repeated figures. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(values: readonly number[]): Spread {
  return {
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    runs: [...values],
  };
}

/** `12.3 (10.1–14.2)` with `digits` decimals. */
export function formatSpread(s: Spread, digits = 0, unit = ''): string {
  const f = (n: number) => n.toFixed(digits);
  if (s.runs.length <= 1) return `${f(s.median)}${unit}`;
  return `${f(s.median)}${unit} (${f(s.min)}–${f(s.max)})`;
}
