import { getQueueToken } from '@nestjs/bull';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bull';
import type { FragmentDefinition } from './fragment-definition';
import { type BuildLane, createJobData, createJobOptions } from './fragment-job';
import type { FragmentTarget } from './fragment-target';
import { FRAGMENT_BUILD_JOB, FRAGMENT_CATALOG } from './fragment.tokens';
import { QueueDepthCollector } from './queue-depth.collector';

export interface LeasedBuild {
  readonly target: FragmentTarget;
  readonly generation: number;
  /** Default `interactive`. */
  readonly lane?: BuildLane;
}

/**
 * Turns the leases a resolve took into Bull jobs: one `add` (`addBulk` for several) per queue
 * involved. The job id carries key and generation, so even a duplicate add is a no-op in Bull.
 */
@Injectable()
export class FragmentEnqueuer implements OnModuleInit {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly moduleRef: ModuleRef,
    @Inject(FRAGMENT_CATALOG) private readonly catalog: readonly FragmentDefinition[],
    private readonly depth: QueueDepthCollector,
  ) {}

  onModuleInit(): void {
    for (const definition of this.catalog) {
      if (this.queues.has(definition.queue)) continue;
      const queue = this.moduleRef.get<Queue>(getQueueToken(definition.queue), { strict: false });
      this.queues.set(definition.queue, queue);
      this.depth.track(queue);
    }
  }

  async enqueue(builds: readonly LeasedBuild[], requestId?: string): Promise<void> {
    const byQueue = new Map<string, LeasedBuild[]>();
    for (const build of builds) {
      const list = byQueue.get(build.target.definition.queue);
      if (list) list.push(build);
      else byQueue.set(build.target.definition.queue, [build]);
    }
    await Promise.all(
      [...byQueue].map(([queueName, list]) => {
        const queue = this.queueByName(queueName);
        const jobs = list.map(({ target, generation, lane }) => ({
          name: FRAGMENT_BUILD_JOB,
          data: createJobData(target, generation, requestId, lane),
          opts: createJobOptions(target.definition, target.key, generation, lane),
        }));
        // Bull's addBulk wraps its jobs in a MULTI: for the usual single job a plain add costs
        // about half the client CPU (one script call instead of a transaction around it).
        if (jobs.length === 1) return queue.add(jobs[0].name, jobs[0].data, jobs[0].opts);
        return queue.addBulk(jobs);
      }),
    );
  }

  queueByName(name: string): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`no queue registered for "${name}"`);
    return queue;
  }
}
