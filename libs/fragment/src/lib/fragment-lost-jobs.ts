import { Injectable, Logger } from '@nestjs/common';
import { FragmentEnqueuer } from './fragment-enqueuer';
import { createJobOptions } from './fragment-job';
import { FragmentRequestMetrics } from './fragment-metrics';
import type { StoredFragment } from './fragment-store';
import type { FragmentTarget } from './fragment-target';

/** A queued build younger than this is surely still in its queue: not worth a look. */
const CHECK_AFTER_MS = 3000;
/** Per copy and gateway, at most one look this often. */
const CHECK_EVERY_MS = 5000;
const MAX_TRACKED = 10_000;

/**
 * A copy's queued build is a lease in the cache and a job in the queue: two keys, maybe on two
 * servers, and a failover (Redis replicates asynchronously) or an eviction of the queue can lose the
 * job while the lease lives on. Left alone, the copy would wait for the lease to run out. So when a
 * request finds a copy waiting for a build queued a while ago, the gateway looks the job up (in the
 * background, at most every few seconds per copy) and, if neither lane's job exists, enqueues the
 * same generation again — the job id is derived from it, so a job that does exist is never doubled.
 */
@Injectable()
export class FragmentLostJobs {
  private readonly logger = new Logger(FragmentLostJobs.name);
  private readonly lastCheck = new Map<string, number>();

  constructor(
    private readonly enqueuer: FragmentEnqueuer,
    private readonly metrics: FragmentRequestMetrics,
  ) {}

  /** Looks, in the background, whether the job a copy waits for still exists; re-enqueues it if not. */
  check(target: FragmentTarget, stored: StoredFragment, requestId?: string): void {
    const queued = stored.queued;
    if (!queued || Date.now() - queued.generation < CHECK_AFTER_MS) return;
    const now = Date.now();
    if (now - (this.lastCheck.get(target.key) ?? 0) < CHECK_EVERY_MS) return;
    if (this.lastCheck.size >= MAX_TRACKED) this.lastCheck.clear();
    this.lastCheck.set(target.key, now);
    void this.repair(target, queued.generation, requestId).catch((error: Error) =>
      this.logger.warn(`could not check the queued build of ${target.key}: ${error.message}`),
    );
  }

  private async repair(target: FragmentTarget, generation: number, requestId?: string): Promise<void> {
    const queue = this.enqueuer.queueByName(target.definition.queue);
    const ids = (['interactive', 'background'] as const).map(
      (lane) => createJobOptions(target.definition, target.key, generation, lane).jobId,
    );
    const jobs = await Promise.all(ids.map((id) => queue.getJob(id as string)));
    if (jobs.some((job) => job !== null)) return;
    await this.enqueuer.enqueue([{ target, generation, lane: 'interactive' }], requestId);
    this.metrics.repaired.inc({ fragment: target.definition.name });
    this.logger.warn(`the queued build of ${target.key} (generation ${generation}) was lost: enqueued it again`);
  }
}
