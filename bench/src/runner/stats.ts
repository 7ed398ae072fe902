/** One measured figure over repeated runs: every run's value, and the summary the report prints. */
export interface Figure {
  readonly runs: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function figure(runs: readonly number[]): Figure {
  return {
    runs: [...runs],
    median: median(runs),
    min: runs.reduce((a, b) => Math.min(a, b), Infinity),
    max: runs.reduce((a, b) => Math.max(a, b), -Infinity),
  };
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** The largest value, 0 for none; a loop, not `Math.max(...values)`, which overflows the stack on a long soak's samples. */
export function maxOf(values: readonly number[]): number {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  return max;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** The ratio of two figures' medians (the comparison the report makes: interleaved runs, medians). */
export function ratio(a: Figure, b: Figure): number {
  return a.median / b.median;
}

/** Collects each named metric across runs: `add('p50', 3.1)` per run, then `figures()`. */
export class RunSeries<K extends string> {
  private readonly values = new Map<K, number[]>();

  add(name: K, value: number): void {
    const list = this.values.get(name);
    if (list) list.push(value);
    else this.values.set(name, [value]);
  }

  addAll(values: Partial<Record<K, number>>): void {
    for (const [name, value] of Object.entries(values) as Array<[K, number]>) this.add(name, value);
  }

  get(name: K): Figure {
    const runs = this.values.get(name);
    if (!runs || runs.length === 0) throw new Error(`no runs of "${name}"`);
    return figure(runs);
  }

  figures(): Record<K, Figure> {
    return Object.fromEntries([...this.values.keys()].map((k) => [k, this.get(k)])) as Record<K, Figure>;
  }
}
