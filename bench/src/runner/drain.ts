import Bull from 'bull';
import { Redis } from 'ioredis';
import {
  bullQueuePrefix,
  createFragmentTarget,
  createRedisClient,
  createJobData,
  createJobOptions,
  FRAGMENT_BUILD_JOB,
  FragmentStore,
  type FragmentTarget,
  type RedisClient,
} from '@worker-pattern/fragment';
import { deleteKeysWithPrefix } from '@worker-pattern/fragment/testing';
import { BENCH_QUEUE, benchFragment, type BenchBuilderKind } from '../lib/bench-fragment';
import type { BenchRedis } from './bench-redis';
import type { BenchContext } from './context';
import { monotonicMicros, type ProfileWindow } from './cpu-profile';
import { cpuMs } from './cpu-time';
import { scrape, sumOf } from './prometheus';
import { REDIS_URL, type RunningApp } from './stack';

/**
 * `engine`: jobs leased and enqueued exactly as the gateway does it (resolve script, then addBulk
 * with the engine's job options), built by bench-worker processes (FragmentWorkerModule).
 * `raw`: plain Bull jobs with Bull's default options, a no-op processor (raw-bull-worker).
 * `raw-engine-opts`: the same raw processor, but jobs carrying the engine's options (priority lane,
 * attempts and backoff, bounded history), to tell Bull's cost of those options from the harness's.
 */
export type DrainKind = 'engine' | 'raw' | 'raw-engine-opts';

export interface DrainOptions {
  readonly kind: DrainKind;
  readonly processes: number;
  readonly concurrency: number;
  readonly jobs: number;
  readonly builder?: BenchBuilderKind;
  readonly buildMs?: number;
  /** Node flags for the worker processes (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** Redis servers of the scenario's own (engine only), instead of the stack's Redis. */
  readonly redis?: BenchRedis;
}

export interface DrainResult {
  /** From resuming the queue to an empty queue. */
  readonly seconds: number;
  readonly jobsPerSecond: number;
  /** Leasing and adding the whole backlog (before the clock of the drain starts). */
  readonly enqueueSeconds: number;
  /** Builds (engine) or jobs processed (raw), counted by the workers. */
  readonly processed: number;
  /** When the drain ran, on the clock of CPU profiles. */
  readonly window: ProfileWindow;
  /** CPU ms per job during the drain: the worker processes together, and Redis. */
  readonly workerCpuPerJob: number;
  readonly redisCpuPerJob: number;
}

const BATCH = 1000;
let runCounter = 0;

/**
 * One drain: start the workers on a queue of their own, pause it, enqueue the whole backlog, then
 * resume and time until the queue is empty (nothing waiting, paused, active or delayed). Every run
 * uses fresh key and Bull prefixes, deleted afterwards.
 */
export async function drainOnce(ctx: BenchContext, options: DrainOptions): Promise<DrainResult> {
  const run = ++runCounter;
  const base = `${ctx.stack.keyPrefix}d${run}:`;
  const keyPrefix = `${base}k:`;
  const bullPrefix = `${base}bull`;
  const own = options.redis;
  if (own && options.kind !== 'engine') throw new Error('only the engine drains on Redis servers of their own');
  // Bull does not close the connections a custom createClient made: closed below.
  const bullClients: RedisClient[] = [];
  const queue = own
    ? new Bull(BENCH_QUEUE, {
        prefix: bullQueuePrefix(bullPrefix, BENCH_QUEUE),
        createClient: (type) => {
          const client = createRedisClient(own.endpoint, `bench-drain:${type}`, `bull-${type}`);
          bullClients.push(client);
          return client;
        },
      })
    : new Bull(BENCH_QUEUE, REDIS_URL, { prefix: bullQueuePrefix(bullPrefix, BENCH_QUEUE) });
  const redis: RedisClient = own ? own.client : new Redis(REDIS_URL);
  const workers: RunningApp[] = [];
  try {
    await queue.isReady();
    // Globally paused: jobs added now wait in the paused list, and no worker starts early.
    await queue.pause();
    const started = await Promise.all(
      Array.from({ length: options.processes }, (_, i) =>
        options.kind === 'engine'
          ? ctx.stack.startBenchApp('bench-worker', {
              label: `bench-worker#${i + 1}`,
              healthPath: '/health/ready',
              nodeArgs: options.nodeArgs ? [...options.nodeArgs] : undefined,
              env: {
                ...own?.env,
                REDIS_KEY_PREFIX: keyPrefix,
                BULL_PREFIX: bullPrefix,
                WORKER_CONCURRENCY: String(options.concurrency),
                BENCH_BUILDER: options.builder ?? 'noop',
                BENCH_BUILD_MS: String(options.buildMs ?? 0),
              },
            })
          : ctx.stack.startBenchApp('raw-bull-worker', {
              label: `raw-bull-worker#${i + 1}`,
              healthPath: '/',
              nodeArgs: options.nodeArgs ? [...options.nodeArgs] : undefined,
              env: {
                BULL_PREFIX: bullPrefix,
                QUEUE: BENCH_QUEUE,
                WORKER_CONCURRENCY: String(options.concurrency),
                BENCH_BUILD_MS: String(options.builder === 'sleep' ? (options.buildMs ?? 0) : 0),
              },
            }),
      ),
    );
    workers.push(...started);

    const enqueueStarted = performance.now();
    if (options.kind === 'engine') await enqueueEngineJobs(queue, redis, keyPrefix, options.jobs);
    else await enqueueRawJobs(queue, options.jobs, options.kind === 'raw-engine-opts');
    const enqueueSeconds = (performance.now() - enqueueStarted) / 1000;

    const queueBase = `${bullQueuePrefix(bullPrefix, BENCH_QUEUE)}:${BENCH_QUEUE}`;
    const keys = {
      wait: `${queueBase}:wait`,
      paused: `${queueBase}:paused`,
      active: `${queueBase}:active`,
      delayed: `${queueBase}:delayed`,
      failed: `${queueBase}:failed`,
    };
    const queued = Number(await redis.llen(keys.paused));
    if (queued !== options.jobs) throw new Error(`expected ${options.jobs} paused jobs, found ${queued}`);

    const redisPids = own ? await own.pids() : [await ctx.stack.redisPid()].filter((p) => p !== undefined);
    const redisCpu = () => (redisPids.length > 0 ? sumCpu(redisPids) : Number.NaN);
    const pids = Object.fromEntries(workers.map((w) => [w.name, w.proc.pid]));
    const cpuBefore = { workers: sumCpu(Object.values(pids)), redis: redisCpu() };
    const t0 = performance.now();
    const fromUs = monotonicMicros();
    await queue.resume();
    for (;;) {
      const [[, wait], [, paused], [, active], [, delayed]] = (await redis
        .multi()
        .llen(keys.wait)
        .llen(keys.paused)
        .llen(keys.active)
        .zcard(keys.delayed)
        .exec()) as Array<[Error | null, number]>;
      if (wait + paused + active + delayed === 0) break;
      if (performance.now() - t0 > 600_000) throw new Error('the queue did not drain within 10 minutes');
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (performance.now() - t0) / 1000;
    const window = { fromUs, toUs: monotonicMicros() };
    const workerCpuPerJob = (sumCpu(Object.values(pids)) - cpuBefore.workers) / options.jobs;
    const redisCpuPerJob = (redisCpu() - cpuBefore.redis) / options.jobs;

    const failed = await redis.zcard(keys.failed);
    if (failed > 0) throw new Error(`${failed} jobs failed`);
    const processed = await countProcessed(options.kind, workers);
    if (processed !== options.jobs)
      throw new Error(`${options.kind}: ${processed} of ${options.jobs} jobs were processed`);
    return {
      seconds,
      jobsPerSecond: options.jobs / seconds,
      enqueueSeconds,
      processed,
      window,
      workerCpuPerJob,
      redisCpuPerJob,
    };
  } finally {
    await Promise.all(workers.map((w) => ctx.stack.stop(w)));
    await queue.close().catch(() => undefined);
    for (const client of bullClients) client.disconnect();
    if (own) {
      await deleteKeysWithPrefix(own.client, base);
    } else {
      redis.disconnect();
      await ctx.stack.deleteKeys(base);
    }
  }
}

/** The gateway's enqueue path: lease every copy in one resolve call per batch, then one addBulk. */
async function enqueueEngineJobs(
  queue: Bull.Queue,
  redis: RedisClient,
  keyPrefix: string,
  jobs: number,
): Promise<void> {
  const store = new FragmentStore(redis);
  for (let first = 0; first < jobs; first += BATCH) {
    const targets: FragmentTarget[] = [];
    for (let n = first; n < Math.min(jobs, first + BATCH); n++) {
      targets.push(createFragmentTarget(benchFragment, { n: String(n) }, { viewerId: 1 }, keyPrefix) as FragmentTarget);
    }
    const stored = await store.read(
      targets.map((t) => ({ key: t.key, leaseMs: benchFragment.leaseMs })),
      true,
    );
    await queue.addBulk(
      targets.map((target, i) => {
        const generation = stored[i].takenGeneration;
        if (generation <= 0) throw new Error(`no lease taken for ${target.key}`);
        return {
          name: FRAGMENT_BUILD_JOB,
          data: createJobData(target, generation),
          opts: createJobOptions(benchFragment, target.key, generation),
        };
      }),
    );
  }
}

async function enqueueRawJobs(queue: Bull.Queue, jobs: number, engineOptions: boolean): Promise<void> {
  for (let first = 0; first < jobs; first += BATCH) {
    const batch = [];
    for (let n = first; n < Math.min(jobs, first + BATCH); n++) {
      batch.push({
        name: FRAGMENT_BUILD_JOB,
        data: { n },
        opts: engineOptions ? createJobOptions(benchFragment, `raw:${n}`, 1) : {},
      });
    }
    await queue.addBulk(batch);
  }
}

async function countProcessed(kind: DrainKind, workers: readonly RunningApp[]): Promise<number> {
  let total = 0;
  for (const worker of workers) {
    if (kind === 'engine') {
      total += sumOf(await scrape(worker.url), 'fragment_builds_total', { outcome: 'built' });
    } else {
      const body = (await (await fetch(worker.url)).json()) as { processed: number };
      total += body.processed;
    }
  }
  return total;
}

function sumCpu(pids: readonly number[]): number {
  return pids.reduce((total, pid) => total + (cpuMs(pid) ?? Number.NaN), 0);
}
