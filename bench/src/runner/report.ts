import type { Figure } from './stats';

/** What a scenario hands the report: headline numbers (checked by the smoke test) and its section. */
export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** Named headline values: ratios and medians. Every one must be a finite number. */
  readonly headline: Readonly<Record<string, number>>;
  /** Markdown of the section, without its heading. */
  readonly markdown: string;
  /** Raw figures for the JSON output. */
  readonly figures?: unknown;
  /**
   * What the scenario found broken (a missed post, a stuck stream, a bound exceeded): the report is
   * still written, with the section saying so, and then the bench exits non-zero.
   */
  readonly failures?: readonly string[];
  /** How many runs its figures come from, when not the run's `--runs` (a soak runs once). */
  readonly runs?: number;
}

export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `median (min–max)`, or just the value for a single run. */
export function fig(f: Figure, digits = 0, unit = ''): string {
  const u = unit ? ` ${unit}` : '';
  if (f.runs.length === 1) return `${num(f.median, digits)}${u}`;
  return `${num(f.median, digits)}${u} (${num(f.min, digits)}–${num(f.max, digits)})`;
}

export function ratioText(value: number, digits = 2): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)}×` : 'n/a';
}

export function mib(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(0)} MiB` : 'n/a';
}

export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
