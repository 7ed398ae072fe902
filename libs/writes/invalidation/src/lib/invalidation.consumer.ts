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
  type InvalidationSummary,
  QueueDepthCollector,
} from '@worker-pattern/fragment';
import type { Job, Queue } from 'bull';
import { Counter, Histogram, register } from 'prom-client';
import { InvalidationFanout } from './invalidation-fanout';
import {
  FANOUT_CHUNK_JOB,
  type FanoutChunkJobData,
  fanoutChunkJobId,
  fanoutChunkJobSchema,
  INVALIDATE_JOB,
  INVALIDATION_JOB_OPTIONS,
  INVALIDATIONS_QUEUE,
  type InvalidationJobData,
  invalidationJobSchema,
} from './invalidation-jobs';

/** Bull's catch-all processor name: one processor, so the queue's concurrency is exactly the worker's. */
const ANY_JOB = '*';

function lagHistogram(): Histogram {
  const existing = register.getSingleMetric('write_invalidation_lag_seconds');
  if (existing instanceof Histogram) return existing;
  return new Histogram({
    name: 'write_invalidation_lag_seconds',
    help: 'Time from a write committing to its fragments being marked stale (and rebuilds enqueued), per page of a fan-out',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [register],
  });
}

function counter(name: string, help: string, labelNames: string[] = []): Counter {
  const existing = register.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help, labelNames, registers: [register] });
}

function add(a: InvalidationSummary, b: InvalidationSummary): InvalidationSummary {
  return { absent: a.absent + b.absent, stale: a.stale + b.stale, rebuilding: a.rebuilding + b.rebuilding };
}

/**
 * Consumes the invalidations queue: fans each write out to its fragments and invalidates them. A
 * post's followers are walked in pages (`FANOUT_PAGE_SIZE`): the write's own job takes the first
 * page, and each page queues the next as a job of its own carrying its cursor, so memory stays
 * bounded by the page size × concurrency, pages of one post run in parallel, and a retry redoes one
 * page. Authors above `FANOUT_CELEBRITY_FOLLOWERS` are not pushed at all (their followers' feeds pull).
 */
@Injectable()
export class InvalidationConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(InvalidationConsumer.name);
  private readonly lag = lagHistogram();
  private readonly posts = counter(
    'write_fanout_posts_total',
    'Posts fanned out: push (followers’ feeds invalidated page by page) or pull (too many followers: feeds pull the post)',
    ['mode'],
  );
  private readonly pages = counter('write_fanout_pages_total', 'Pages of followers whose feeds a post invalidated');

  constructor(
    @InjectQueue(INVALIDATIONS_QUEUE) private readonly queue: Queue<InvalidationJobData | FanoutChunkJobData>,
    @Inject(FRAGMENT_OPTIONS) private readonly options: FragmentModuleOptions,
    private readonly fanout: InvalidationFanout,
    private readonly invalidator: FragmentInvalidator,
    private readonly depth: QueueDepthCollector,
  ) {}

  onApplicationBootstrap(): void {
    this.depth.track(this.queue);
    void this.queue
      .process(ANY_JOB, this.options.worker?.concurrency ?? 1, (job: Job<unknown>) => this.dispatch(job))
      .catch((error: Error) => {
        this.logger.error(`invalidations queue stopped: ${error.message}`);
      });
    const handlers = Object.keys((this.queue as Queue & { handlers?: object }).handlers ?? {});
    if (handlers.length !== 1 || handlers[0] !== ANY_JOB)
      throw new Error(`queue "${INVALIDATIONS_QUEUE}" must have exactly one handler, for every job`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.queue.close();
  }

  dispatch(job: Pick<Job<unknown>, 'name' | 'data'>): Promise<InvalidationSummary> {
    if (job.name === INVALIDATE_JOB) return this.handle(job.data as InvalidationJobData);
    if (job.name === FANOUT_CHUNK_JOB) return this.handleChunk(job.data as FanoutChunkJobData);
    return Promise.reject(new Error(`unknown job "${job.name}" on queue "${INVALIDATIONS_QUEUE}"`));
  }

  /**
   * One write. Plain data in, so it is testable without Bull. Throws (and Bull retries) on any
   * failure. The write's WAL position goes with the invalidation, so its rebuilds never read a
   * replica that has not replayed the write.
   */
  async handle(data: InvalidationJobData): Promise<InvalidationSummary> {
    const job = invalidationJobSchema.parse(data);
    const plan = await this.fanout.of(job.event);
    let summary = await this.invalidator.invalidate(plan.targets, {
      requestId: `outbox.${job.outboxId}`,
      lsn: job.lsn,
    });
    if (plan.followers && job.event.type === 'post.created') {
      this.posts.inc({ mode: plan.followers.mode });
      if (plan.followers.mode === 'push') {
        const { outboxId, writtenAt, lsn } = job;
        const first = { outboxId, writtenAt, lsn, authorId: job.event.authorId, postId: job.event.postId, after: 0 };
        summary = add(summary, await this.fanOutPage(first));
      }
    }
    this.lag.observe(Math.max(0, Date.now() - job.writtenAt) / 1000);
    return summary;
  }

  /** One further page of a post's fan-out, from the cursor its job carries. */
  async handleChunk(data: FanoutChunkJobData): Promise<InvalidationSummary> {
    const chunk = fanoutChunkJobSchema.parse(data);
    const summary = await this.fanOutPage(chunk);
    this.lag.observe(Math.max(0, Date.now() - chunk.writtenAt) / 1000);
    return summary;
  }

  /**
   * The page after `chunk.after`. The next page is queued before this one is invalidated, so pages
   * proceed side by side over the worker's concurrency; its job id is fixed by its cursor, so a
   * retry of this page (which redoes only this page) queues nothing twice.
   */
  private async fanOutPage(chunk: FanoutChunkJobData): Promise<InvalidationSummary> {
    const page = await this.fanout.feedsAfter(chunk.authorId, chunk.after);
    if (page.next !== null) {
      const next: FanoutChunkJobData = { ...chunk, after: page.next };
      await this.queue.add(FANOUT_CHUNK_JOB, next, { jobId: fanoutChunkJobId(next), ...INVALIDATION_JOB_OPTIONS });
    }
    this.pages.inc();
    return this.invalidator.invalidate(page.targets, { requestId: `outbox.${chunk.outboxId}`, lsn: chunk.lsn });
  }
}
