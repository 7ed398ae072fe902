import { InjectQueue } from '@nestjs/bull';
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  FRAGMENT_OPTIONS,
  FragmentInvalidator,
  type FragmentModuleOptions,
  QueueDepthCollector,
} from '@worker-pattern/fragment';
import type { Job, Queue } from 'bull';
import { Histogram, register } from 'prom-client';
import { InvalidationFanout } from './invalidation-fanout';
import { INVALIDATE_JOB, INVALIDATIONS_QUEUE, type InvalidationJobData, invalidationJobSchema } from './write-events';

function lagHistogram(): Histogram {
  const existing = register.getSingleMetric('write_invalidation_lag_seconds');
  if (existing instanceof Histogram) return existing;
  return new Histogram({
    name: 'write_invalidation_lag_seconds',
    help: 'Time from a write committing to its fragments being marked stale (and rebuilds enqueued)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [register],
  });
}

/** Consumes the invalidations queue: fans each write out to its fragments and invalidates them. */
@Injectable()
export class InvalidationConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(InvalidationConsumer.name);
  private readonly lag = lagHistogram();

  constructor(
    @InjectQueue(INVALIDATIONS_QUEUE) private readonly queue: Queue<InvalidationJobData>,
    @Inject(FRAGMENT_OPTIONS) private readonly options: FragmentModuleOptions,
    private readonly fanout: InvalidationFanout,
    private readonly invalidator: FragmentInvalidator,
    private readonly depth: QueueDepthCollector,
  ) {}

  onApplicationBootstrap(): void {
    this.depth.track(this.queue);
    void this.queue
      .process(INVALIDATE_JOB, this.options.worker?.concurrency ?? 1, (job: Job<InvalidationJobData>) =>
        this.handle(job.data),
      )
      .catch((error: Error) => {
        this.logger.error(`invalidations queue stopped: ${error.message}`);
      });
    const handlers = Object.keys((this.queue as Queue & { handlers?: object }).handlers ?? {});
    if (handlers.length !== 1 || handlers[0] !== INVALIDATE_JOB)
      throw new Error(`queue "${INVALIDATIONS_QUEUE}" must have exactly one handler, for "${INVALIDATE_JOB}"`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.queue.close();
  }

  /**
   * Plain data in, so it is testable without Bull. Throws (and Bull retries) on any failure. The
   * write's WAL position goes with the invalidation, so its rebuilds never read a replica that has
   * not replayed the write.
   */
  async handle(data: InvalidationJobData): Promise<{ absent: number; stale: number; rebuilding: number }> {
    const job = invalidationJobSchema.parse(data);
    const targets = await this.fanout.targetsOf(job.event);
    const summary = await this.invalidator.invalidate(targets, { requestId: `outbox.${job.outboxId}`, lsn: job.lsn });
    this.lag.observe(Math.max(0, Date.now() - job.writtenAt) / 1000);
    return summary;
  }
}
