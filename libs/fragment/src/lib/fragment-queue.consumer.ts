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
import {
  BULL_STALLED_FAILURE,
  BuildInterruptedError,
  FragmentAttemptError,
  FragmentBuildRunner,
  type BuildOutcome,
} from './fragment-build-runner';
import type { FragmentDefinition } from './fragment-definition';
import { createJobData, createJobOptions, type FragmentJobData } from './fragment-job';
import type { FollowUpBuild } from './fragment-store';
import type { FragmentModuleOptions } from './fragment-options';
import { FRAGMENT_BUILD_JOB, FRAGMENT_OPTIONS, WORKER_FRAGMENT } from './fragment.tokens';
import { QueueDepthCollector } from './queue-depth.collector';
import { withTimeout } from './with-timeout';

/** Bull keeps its handlers on an undocumented field; the start-up check reads it. */
type QueueWithHandlers = Queue & { handlers?: Record<string, unknown> };
/** Bull moves a job back this way itself (retries with backoff); its typings leave it out. */
type MovableJob = Job & { moveToDelayed(timestamp: number, ignoreLock?: boolean): Promise<void> };

/**
 * Connects the worker's one queue to the build runner. Handlers are registered with
 * `queue.process()` at bootstrap rather than with `@Process()` decorators, so concurrency comes
 * from validated config instead of a constant baked into a decorator.
 */
@Injectable()
export class FragmentQueueConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(FragmentQueueConsumer.name);
  private readonly inFlight = new Map<string, { job: Job; interrupt: AbortController }>();
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
    void queue
      .process(FRAGMENT_BUILD_JOB, worker.concurrency, (job: Job) => this.handle(job))
      .catch((error: Error) => {
        this.logger.error(`queue "${queue.name}" stopped processing: ${error.message}`);
      });
    // The one worker whose stalled-job check failed a job tells the copy (nobody else would).
    queue.on('failed', (job: Job, error: Error | undefined) => {
      if (error?.message !== BULL_STALLED_FAILURE) return;
      this.runner
        .recordStalled({
          payload: job.data,
          jobId: String(job.id),
          maxAttempts: job.opts.attempts ?? 1,
          enqueueFollowUp: (data, followUp) => this.enqueueFollowUp(data, followUp),
        })
        .catch((failure: Error) => {
          this.logger.warn(`could not record stalled job ${String(job.id)} on its copy: ${failure.message}`);
        });
    });
    assertOnlyBuildHandler(queue as QueueWithHandlers);
    this.depth.track(queue);
    this.queue = queue;
    this.logger.log(`consuming queue "${queue.name}" (${this.definition.name}) with concurrency ${worker.concurrency}`);
  }

  /**
   * Stop taking jobs and let in-flight builds finish, within the drain budget; builds still running
   * then are handed back to the queue (another worker takes them at once, without waiting for
   * stalled-job detection and without spending an attempt) and interrupted. Connections close after.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const queue = this.queue;
    if (!queue) return;
    const budget = this.options.worker?.drainTimeoutMs ?? 20_000;
    this.logger.log(`draining queue "${queue.name}" (${this.inFlight.size} in flight, up to ${budget} ms)`);
    // A local pause takes no new job and resolves once the jobs in hand have settled.
    const finished = queue.pause(true);
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      finished.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), budget))),
    ]);
    clearTimeout(timer);
    if (drained) {
      await queue.close();
      return;
    }
    // Stop fetching first (a slot still blocked on the queue would take a handed-back job right
    // back), then hand back. Bull leaves connections made by our createClient open, so the queue's
    // client still works here; they are closed at onApplicationShutdown.
    await queue.close(true);
    await this.handBack();
  }

  private async handBack(): Promise<void> {
    const jobs = [...this.inFlight.values()];
    this.logger.warn(`drain budget spent: handing ${jobs.length} job(s) back to queue "${this.queue?.name}"`);
    await Promise.all(
      jobs.map(async ({ job, interrupt }) => {
        try {
          // Back to the queue (delayed until now: due at once), then drop our lock so the build's
          // late failure cannot move the job again.
          await (job as MovableJob).moveToDelayed(Date.now(), true);
          await job.releaseLock();
        } catch (error) {
          this.logger.warn(
            `could not hand job ${String(job.id)} back (stalled-job recovery will): ${(error as Error).message}`,
          );
        }
        interrupt.abort();
      }),
    );
  }

  private async handle(job: Job): Promise<BuildOutcome> {
    const id = String(job.id);
    const interrupt = new AbortController();
    this.inFlight.set(id, { job, interrupt });
    try {
      return await this.runner.run({
        payload: job.data,
        jobId: id,
        attempt: job.attemptsMade + 1,
        maxAttempts: job.opts.attempts ?? 1,
        signal: interrupt.signal,
        enqueueFollowUp: (data, followUp) => this.enqueueFollowUp(data, followUp),
      });
    } catch (error) {
      // The job is the queue's again: settling would let Bull count an attempt and move it.
      if (error instanceof BuildInterruptedError) return new Promise<never>(() => undefined);
      // A permanent or final failure must not be retried by Bull.
      if (error instanceof FragmentAttemptError && !error.retry) await job.discard();
      throw error;
    } finally {
      this.inFlight.delete(id);
    }
  }

  /** A follow-up build of a copy this worker just built (a write overtook it): on this same queue. */
  private async enqueueFollowUp(job: FragmentJobData, followUp: FollowUpBuild): Promise<void> {
    const queue = this.queue;
    if (!queue) return;
    const target = { definition: this.definition, key: job.key, viewerId: job.viewerId, params: job.params };
    await queue.add(
      FRAGMENT_BUILD_JOB,
      createJobData(target, followUp.generation, job.requestId, followUp.lane),
      createJobOptions(this.definition, job.key, followUp.generation, followUp.lane, followUp.delayMs),
    );
  }
}

function assertOnlyBuildHandler(queue: QueueWithHandlers): void {
  const names = Object.keys(queue.handlers ?? {});
  if (names.length !== 1 || names[0] !== FRAGMENT_BUILD_JOB) {
    throw new Error(
      `queue "${queue.name}" must have exactly one handler, for "${FRAGMENT_BUILD_JOB}" (has: ${names.join(', ') || 'none'})`,
    );
  }
}
