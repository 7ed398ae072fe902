import { getQueueToken } from '@nestjs/bull';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Job, Queue } from 'bull';
import { FragmentAttemptError, FragmentBuildRunner, type BuildOutcome } from './fragment-build-runner';
import type { FragmentDefinition } from './fragment-definition';
import type { FragmentModuleOptions } from './fragment-options';
import { FRAGMENT_BUILD_JOB, FRAGMENT_OPTIONS, WORKER_FRAGMENT } from './fragment.tokens';
import { QueueDepthCollector } from './queue-depth.collector';
import { withTimeout } from './with-timeout';

/** Bull keeps its handlers on an undocumented field; the start-up check reads it. */
type QueueWithHandlers = Queue & { handlers?: Record<string, unknown> };

/**
 * Connects the worker's one queue to the build runner. Handlers are registered with
 * `queue.process()` at bootstrap rather than with `@Process()` decorators, so concurrency comes
 * from validated config instead of a constant baked into a decorator.
 */
@Injectable()
export class FragmentQueueConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(FragmentQueueConsumer.name);
  private queue?: Queue;

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly runner: FragmentBuildRunner,
    private readonly depth: QueueDepthCollector,
    @Inject(WORKER_FRAGMENT) private readonly definition: FragmentDefinition,
    @Inject(FRAGMENT_OPTIONS) private readonly options: FragmentModuleOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const worker = this.options.worker;
    if (!worker) throw new Error('FragmentModule needs `worker` options in a worker process');
    const queue = this.moduleRef.get<Queue>(getQueueToken(this.definition.queue), { strict: false });
    await withTimeout(queue.isReady(), 10_000, `queue "${queue.name}": Redis not reachable`);
    // Not awaited: process() resolves only when the queue closes.
    void queue.process(FRAGMENT_BUILD_JOB, worker.concurrency, (job: Job) => this.handle(job)).catch((error: Error) => {
      this.logger.error(`queue "${queue.name}" stopped processing: ${error.message}`);
    });
    assertOnlyBuildHandler(queue as QueueWithHandlers);
    this.depth.track(queue);
    this.queue = queue;
    this.logger.log(`consuming queue "${queue.name}" (${this.definition.name}) with concurrency ${worker.concurrency}`);
  }

  /** Stop taking jobs and let in-flight builds finish before connections close. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.queue) return;
    this.logger.log(`draining queue "${this.queue.name}"`);
    await this.queue.close();
  }

  private async handle(job: Job): Promise<BuildOutcome> {
    try {
      return await this.runner.run({
        payload: job.data,
        jobId: String(job.id),
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? 1,
      });
    } catch (error) {
      // A permanent or final failure must not be retried by Bull.
      if (error instanceof FragmentAttemptError && !error.retry) await job.discard();
      throw error;
    }
  }
}

function assertOnlyBuildHandler(queue: QueueWithHandlers): void {
  const names = Object.keys(queue.handlers ?? {});
  if (names.length !== 1 || names[0] !== FRAGMENT_BUILD_JOB) {
    throw new Error(`queue "${queue.name}" must have exactly one handler, for "${FRAGMENT_BUILD_JOB}" (has: ${names.join(', ') || 'none'})`);
  }
}
