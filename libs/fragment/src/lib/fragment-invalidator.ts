import { Injectable } from '@nestjs/common';
import { ACTIVE_READ_WINDOW_MS } from './fragment-definition';
import { FragmentEnqueuer, type LeasedBuild } from './fragment-enqueuer';
import { FragmentInvalidationMetrics } from './fragment-metrics';
import { FragmentStore } from './fragment-store';
import type { FragmentTarget } from './fragment-target';

export interface InvalidateOptions {
  /** A copy read within this window is rebuilt right away (background lane). Default 10 minutes. */
  readonly activeWindowMs?: number;
  readonly requestId?: string;
  /**
   * The write's WAL position (Postgres `X/Y`): the copies' next builds must read data at or after it
   * (`FragmentBuildContext.minLsn`), so a lagging read replica never serves them older data.
   */
  readonly lsn?: string;
}

export interface InvalidationSummary {
  /** Copies that did not exist: nothing cached, nothing to do. */
  readonly absent: number;
  /** Marked stale; rebuilt on their next request. */
  readonly stale: number;
  /** Marked stale and enqueued for a background rebuild (someone read them recently). */
  readonly rebuilding: number;
}

const BATCH = 500;

/**
 * Applies the effect of a write to cached fragments: stale at once (served while rebuilt), builds
 * queued before the write discarded, copies people look at rebuilt proactively in the background
 * lane so interactive builds keep priority. Idempotent: running it twice only bumps generations.
 */
@Injectable()
export class FragmentInvalidator {
  constructor(
    private readonly store: FragmentStore,
    private readonly enqueuer: FragmentEnqueuer,
    private readonly metrics: FragmentInvalidationMetrics,
  ) {}

  async invalidate(targets: readonly FragmentTarget[], options: InvalidateOptions = {}): Promise<InvalidationSummary> {
    const summary = { absent: 0, stale: 0, rebuilding: 0 };
    for (let start = 0; start < targets.length; start += BATCH) {
      const batch = targets.slice(start, start + BATCH);
      const results = await this.store.invalidate(
        batch.map((t) => ({ key: t.key, leaseMs: t.definition.leaseMs })),
        options.activeWindowMs ?? ACTIVE_READ_WINDOW_MS,
        options.lsn,
      );
      const rebuilds: LeasedBuild[] = [];
      results.forEach((result, i) => {
        const target = batch[i];
        summary[result.outcome === 'rebuild' ? 'rebuilding' : result.outcome] += 1;
        this.metrics.invalidations.inc({ fragment: target.definition.name, outcome: result.outcome });
        if (result.outcome === 'rebuild') rebuilds.push({ target, generation: result.generation, lane: 'background' });
      });
      // If this add fails the job is retried; its leases merely expire, and requests meanwhile see
      // stale data with a lease and enqueue nothing: acceptable for a rebuild nobody waits on.
      if (rebuilds.length > 0) await this.enqueuer.enqueue(rebuilds, options.requestId);
    }
    return summary;
  }
}
