import type { RunningApp } from './stack';

/** Peak RSS per process name, in bytes. */
export type PeakRss = Record<string, number>;

/**
 * Samples the resident set size (/proc/<pid>/status VmRSS) of every process the bench runs, every
 * `intervalMs`, and keeps each process's peak per phase (a scenario, or the soak).
 */
export class MemorySampler {
  private readonly peaks = new Map<string, PeakRss>();
  private phase = 'start';
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly apps: () => Iterable<RunningApp>,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  setPhase(phase: string): void {
    this.sample();
    this.phase = phase;
  }

  sample(): void {
    let peaks = this.peaks.get(this.phase);
    if (!peaks) this.peaks.set(this.phase, (peaks = {}));
    for (const app of this.apps()) {
      const rss = app.proc.rss();
      if (rss !== undefined && rss > (peaks[app.name] ?? 0)) peaks[app.name] = rss;
    }
  }

  peaksOf(phase: string): PeakRss {
    return { ...this.peaks.get(phase) };
  }

  phases(): string[] {
    return [...this.peaks.keys()];
  }
}
