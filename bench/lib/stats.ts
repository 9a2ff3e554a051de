// Small statistics helpers. Rounds are few (3-5), so medians and min-max spreads, not means and
// standard deviations.

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Linear-interpolated quantile, q in [0, 1]. NaN for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export interface RatioSummary {
  /** Median of the per-round ratios ours / baseline. */
  median: number;
  min: number;
  max: number;
  rounds: number;
}

/** Per-round ratios a[i] / b[i] (rounds are paired because they ran back to back). */
export function ratioSummary(ours: readonly number[], baseline: readonly number[]): RatioSummary | null {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(ours.length, baseline.length); i++) {
    const a = ours[i] as number;
    const b = baseline[i] as number;
    if (Number.isFinite(a) && Number.isFinite(b) && b !== 0) ratios.push(a / b);
  }
  if (ratios.length === 0) return null;
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), rounds: ratios.length };
}

/** A latency recorder for many samples (realtime deliveries), kept as a plain array of ms. */
export class Samples {
  readonly values: number[] = [];
  add(v: number): void {
    this.values.push(v);
  }
  get count(): number {
    return this.values.length;
  }
  p(q: number): number {
    return quantile(this.values, q);
  }
}
