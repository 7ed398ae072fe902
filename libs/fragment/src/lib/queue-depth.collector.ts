import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bull';
import { Gauge, register } from 'prom-client';
import { withTimeout } from './with-timeout';

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
const tracked = new Set<Queue>();

/** Reads queue depths at scrape time; a slow or dead Redis must not hang /metrics. */
async function countsWithin(queue: Queue, ms: number): Promise<Record<string, number> | null> {
  const counts = queue.getJobCounts() as unknown as Promise<Record<string, number>>;
  return withTimeout(counts, ms, 'queue counts timed out').catch(() => null);
}

function ensureGauge(): void {
  if (register.getSingleMetric('bull_queue_jobs')) return;
  new Gauge({
    name: 'bull_queue_jobs',
    help: 'Jobs in each Bull queue by state (waiting + active per pod is the autoscaling signal)',
    labelNames: ['queue', 'state'],
    registers: [register],
    async collect() {
      this.reset();
      await Promise.all(
        [...tracked].map(async (queue) => {
          const counts = await countsWithin(queue, 1000);
          if (!counts) return;
          for (const state of STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
        }),
      );
    },
  });
}

/** Exposes `bull_queue_jobs{queue,state}` for the queues this process produces to or consumes. */
@Injectable()
export class QueueDepthCollector implements OnModuleDestroy {
  private readonly mine: Queue[] = [];

  track(queue: Queue): void {
    ensureGauge();
    tracked.add(queue);
    this.mine.push(queue);
  }

  onModuleDestroy(): void {
    for (const queue of this.mine) tracked.delete(queue);
  }
}
