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

/**
 * Seconds since the oldest waiting job was created (0 when none waits): the queue's head, Bull's
 * `getWaiting(0, 0)` (the right end of its wait and paused lists). A retried job counts from its
 * first enqueue. A backlog that only grows is what this shows, whatever the autoscaler does.
 */
async function oldestWaitingSecondsWithin(queue: Queue, ms: number, now: number): Promise<number | null> {
  const jobs = withTimeout(queue.getWaiting(0, 0), ms, 'oldest waiting job timed out').catch(() => null);
  const head = await jobs;
  if (!head) return null;
  const created = head.filter((job) => job).map((job) => job.timestamp);
  return created.length ? Math.max(0, (now - Math.min(...created)) / 1000) : 0;
}

function ensureGauge(): void {
  if (!register.getSingleMetric('bull_queue_oldest_waiting_seconds')) {
    new Gauge({
      name: 'bull_queue_oldest_waiting_seconds',
      help: 'Age of the oldest waiting job of each Bull queue, from its creation (0 when none waits)',
      labelNames: ['queue'],
      registers: [register],
      async collect() {
        this.reset();
        const now = Date.now();
        await Promise.all(
          [...tracked].map(async (queue) => {
            const age = await oldestWaitingSecondsWithin(queue, 1000, now);
            if (age !== null) this.set({ queue: queue.name }, age);
          }),
        );
      },
    });
  }
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

/**
 * Exposes `bull_queue_jobs{queue,state}` and `bull_queue_oldest_waiting_seconds{queue}` for the queues
 * this process produces to or consumes.
 */
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
