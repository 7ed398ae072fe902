import { Inject, Injectable, Logger } from '@nestjs/common';
import type { FragmentBuilder } from './fragment-builder';
import { ACTIVE_READ_WINDOW_MS, type FragmentDefinition } from './fragment-definition';
import { PermanentFragmentError } from './fragment-errors';
import { fragmentLocation } from './fragment-key';
import { fragmentJobSchema, retryLeaseMs, type FragmentJobData } from './fragment-job';
import { FragmentBuildStats } from './fragment-build-stats';
import { FragmentBuildMetrics } from './fragment-metrics';
import type { FragmentModuleOptions } from './fragment-options';
import { FragmentStore, type FollowUpBuild } from './fragment-store';
import { retryWhileUnavailable } from './redis-retry';
import { FRAGMENT_OPTIONS, WORKER_BUILDER, WORKER_FRAGMENT } from './fragment.tokens';

/** One attempt at a job, as plain data: the Bull `Job` stays in the queue consumer. */
export interface BuildAttempt {
  readonly payload: unknown;
  /** The Bull job id: the claim token, so this job's own retries may build again. */
  readonly jobId: string;
  /** 1 for the first try. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Aborted when the worker hands the job back at shutdown: the build stops, nothing is recorded. */
  readonly signal?: AbortSignal;
  /**
   * Queues a follow-up build of the same copy (a write overtook this build): the consumer adds it
   * to this worker's own queue. Without it (unit tests) follow-ups are only counted.
   */
  readonly enqueueFollowUp?: (job: FragmentJobData, followUp: FollowUpBuild) => Promise<void>;
}

/**
 * `built`: written fresh; `stale`: written, but a write landed after the build read the database,
 * so one follow-up build is queued; `discarded`: a build that read later had already written;
 * `superseded`: not built (another job holds the build, or took its lease over).
 */
export type BuildOutcome = 'built' | 'stale' | 'discarded' | 'superseded';

/** A failed attempt. `retry` false means Bull must not try again (permanent or final failure). */
export class FragmentAttemptError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly retry: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FragmentAttemptError';
  }
}

class BuildTimeoutError extends Error {
  constructor(ms: number) {
    super(`build timed out after ${ms} ms`);
  }
}

/** The worker is shutting down and handed the job back to the queue; another worker builds it. */
export class BuildInterruptedError extends Error {
  constructor() {
    super('build interrupted: the job was handed back at shutdown');
    this.name = 'BuildInterruptedError';
  }
}

const MAX_ERROR_LENGTH = 300;

/** The error Bull fails a job with when it stalled more often than `maxStalledCount` allows. */
export const BULL_STALLED_FAILURE = 'job stalled more than allowable limit';

/**
 * The worker-side harness around a builder: validate the payload, skip superseded work, run the
 * builder under a timeout, write the result with its ttl (generation-guarded), clear the lease and
 * announce readiness; on failure, keep the lease for a retry or record `failed` for a while.
 */
@Injectable()
export class FragmentBuildRunner {
  private readonly logger = new Logger(FragmentBuildRunner.name);

  constructor(
    private readonly store: FragmentStore,
    private readonly metrics: FragmentBuildMetrics,
    private readonly stats: FragmentBuildStats,
    @Inject(WORKER_FRAGMENT) private readonly definition: FragmentDefinition,
    @Inject(WORKER_BUILDER) private readonly builder: FragmentBuilder,
    @Inject(FRAGMENT_OPTIONS) private readonly options: FragmentModuleOptions,
  ) {}

  async run(attempt: BuildAttempt): Promise<BuildOutcome> {
    const { definition } = this;
    const job = this.validate(attempt.payload);
    const labels = { fragment: definition.name };
    if (attempt.attempt === 1) {
      this.metrics.queueLatencySeconds.observe(labels, Math.max(0, Date.now() - job.enqueuedAt) / 1000);
    }

    const lease = retryLeaseMs(definition, attempt.attempt);
    const claim = await this.whileUnavailable(() =>
      this.store.claim(job.key, attempt.jobId, lease, job.lane ?? 'interactive'),
    );
    if (claim.outcome === 'superseded') {
      this.metrics.builds.inc({ ...labels, outcome: 'superseded' });
      return 'superseded';
    }

    const stopTimer = this.metrics.buildSeconds.startTimer(labels);
    let dataJson: string;
    let ttlMs = definition.ttlMs;
    const limitTtl = (ms: number): void => {
      if (Number.isFinite(ms)) ttlMs = Math.max(1, Math.min(ttlMs, Math.round(ms)));
    };
    try {
      const data = await this.buildWithTimeout(job, attempt, claim.minLsn, limitTtl);
      dataJson = JSON.stringify(data ?? null);
    } catch (error) {
      stopTimer();
      if (error instanceof BuildInterruptedError) {
        // Handed back: its running lease stays, so the job's next claim (by any worker) builds at once.
        this.metrics.builds.inc({ ...labels, outcome: 'interrupted' });
        this.logger.warn(this.logFields(job, attempt, 'interrupted', { msg: error.message }));
        throw error;
      }
      throw await this.recordFailure(job, attempt, claim.generation, error);
    }
    const seconds = stopTimer();
    this.stats.record(definition.name, seconds * 1000);

    const builtAt = new Date().toISOString();
    const result = await this.whileUnavailable(() =>
      this.store.complete(job.key, claim.generation, attempt.jobId, dataJson, builtAt, {
        ttlMs,
        staleMs: definition.staleMs,
        activeWindowMs: ACTIVE_READ_WINDOW_MS,
        leaseMs: definition.leaseMs,
      }),
    );
    const outcome: BuildOutcome =
      result.outcome === 'written' ? 'built' : result.outcome === 'stale' ? 'stale' : 'discarded';
    this.metrics.builds.inc({ ...labels, outcome });
    this.logger.log(
      this.logFields(job, attempt, outcome, { ms: Math.round(seconds * 1000), claimedAt: claim.generation }),
    );
    if (result.followUp) await this.followUp(job, attempt, result.followUp);
    return outcome;
  }

  /**
   * Bull failed the job as stalled too often: its worker died mid-build again and again (killed,
   * out of memory). Recorded as the build's final failure, so the copy is not held by a running
   * lease nobody will finish: it shows `failed` for its backoff ttl, then the next ask (or a watching
   * stream) builds it again. Ignored unless the job is still the copy's running build.
   */
  async recordStalled(
    stalled: Pick<BuildAttempt, 'payload' | 'jobId' | 'maxAttempts' | 'enqueueFollowUp'>,
  ): Promise<void> {
    const job = this.validate(stalled.payload);
    const running = await this.whileUnavailable(() => this.store.runningBuild(job.key));
    if (running?.jobId !== stalled.jobId) return;
    const attempt = { ...stalled, attempt: stalled.maxAttempts };
    await this.recordFailure(job, attempt, running.generation, new Error(BULL_STALLED_FAILURE));
  }

  /**
   * The store's scripts for this job, sent again while Redis fails over (for up to half the build's
   * lease): a build whose claim or result is lost to a failover would hold its copy for a whole lease.
   */
  private whileUnavailable<T>(command: () => Promise<T>): Promise<T> {
    return retryWhileUnavailable(command, this.definition.leaseMs / 2);
  }

  /** A write overtook this build: the script queued one follow-up build, which this worker enqueues. */
  private async followUp(job: FragmentJobData, attempt: BuildAttempt, followUp: FollowUpBuild): Promise<void> {
    this.metrics.builds.inc({ fragment: this.definition.name, outcome: 'follow_up' });
    await attempt.enqueueFollowUp?.(job, followUp);
  }

  /** Structured log fields: the request that caused the build and the job, so one id follows it through. */
  private logFields(
    job: FragmentJobData,
    attempt: BuildAttempt,
    outcome: string,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> {
    return {
      msg: `${this.definition.name} ${outcome}`,
      fragment: this.definition.name,
      outcome,
      key: job.key,
      generation: job.generation,
      requestId: job.requestId,
      jobId: attempt.jobId,
      attempt: attempt.attempt,
      ...extra,
    };
  }

  /** A payload that does not match this worker's fragment exactly is refused, never built. */
  private validate(payload: unknown): FragmentJobData {
    const parsed = fragmentJobSchema.safeParse(payload);
    const reject = (reason: string): never => {
      this.metrics.builds.inc({ fragment: this.definition.name, outcome: 'invalid' });
      throw new FragmentAttemptError(`invalid job payload: ${reason}`, 'invalid_job', false);
    };
    if (!parsed.success) return reject(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    const job = parsed.data as FragmentJobData;
    if (job.fragment !== this.definition.name) return reject(`fragment "${job.fragment}" is not built here`);
    const params = this.definition.params.safeParse(job.params);
    if (!params.success) return reject('params do not validate');
    let key: string;
    try {
      key = fragmentLocation(this.options.keyPrefix, this.definition, job.viewerId, params.data).key;
    } catch (error) {
      return reject((error as Error).message);
    }
    // The key is recomputed from validated params: a forged or stale-format job cannot write elsewhere.
    if (key !== job.key) return reject('key does not match its params');
    return { ...job, params: params.data };
  }

  /** Runs the builder until it settles, times out, or the worker takes the job back. */
  private async buildWithTimeout(
    job: FragmentJobData,
    attempt: BuildAttempt,
    minLsn: string | undefined,
    limitTtl: (ttlMs: number) => void,
  ): Promise<unknown> {
    const controller = new AbortController();
    const timeoutMs = this.definition.buildTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let onShutdown: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      const stop = (error: Error) => {
        controller.abort(error);
        reject(error);
      };
      timer = setTimeout(() => stop(new BuildTimeoutError(timeoutMs)), timeoutMs);
      onShutdown = () => stop(new BuildInterruptedError());
      if (attempt.signal?.aborted) onShutdown();
      else attempt.signal?.addEventListener('abort', onShutdown, { once: true });
    });
    try {
      return await Promise.race([
        this.builder.build(job.params, {
          viewerId: job.viewerId,
          signal: controller.signal,
          attempt: attempt.attempt,
          minLsn,
          limitTtl,
        }),
        stopped,
      ]);
    } finally {
      clearTimeout(timer);
      if (onShutdown) attempt.signal?.removeEventListener('abort', onShutdown);
    }
  }

  private async recordFailure(
    job: FragmentJobData,
    attempt: BuildAttempt,
    generation: number,
    error: unknown,
  ): Promise<FragmentAttemptError> {
    const { definition } = this;
    const permanent = error instanceof PermanentFragmentError;
    const final = permanent || attempt.attempt >= attempt.maxAttempts;
    const code = permanent ? error.code : error instanceof BuildTimeoutError ? 'timeout' : 'build_failed';
    const detail = error instanceof Error ? error.message : String(error);
    // Builders word permanent errors for users; anything else may carry internals (SQL), so clients
    // get a generic message and the log gets the detail.
    const message = permanent
      ? truncate(detail)
      : `${code === 'timeout' ? 'build timed out' : 'build failed'} after ${attempt.attempt} attempt${attempt.attempt > 1 ? 's' : ''}`;
    const result = await this.whileUnavailable(() =>
      this.store.fail(
        job.key,
        generation,
        attempt.jobId,
        { message, code },
        {
          final,
          failedTtlMs: definition.failedTtlMs,
          failedTtlCapMs: definition.failedTtlCapMs,
          retryLeaseMs: retryLeaseMs(definition, attempt.attempt + 1),
          leaseMs: definition.leaseMs,
          activeWindowMs: ACTIVE_READ_WINDOW_MS,
        },
      ),
    );
    const outcome = final ? 'failed' : 'retry';
    this.metrics.builds.inc({ fragment: definition.name, outcome });
    const fields = this.logFields(job, attempt, outcome, {
      error: detail,
      code,
      maxAttempts: attempt.maxAttempts,
      recorded: result.outcome,
      failedTtlMs: result.failedTtlMs,
    });
    if (permanent) this.logger.warn(fields);
    else this.logger.error({ ...fields, stack: error instanceof Error ? error.stack : undefined });
    if (result.followUp) await this.followUp(job, attempt, result.followUp);
    return new FragmentAttemptError(message, code, !final, { cause: error });
  }
}

function truncate(text: string): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length > MAX_ERROR_LENGTH ? `${line.slice(0, MAX_ERROR_LENGTH - 3)}...` : line;
}
