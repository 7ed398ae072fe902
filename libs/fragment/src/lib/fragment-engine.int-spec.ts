import { getQueueToken } from '@nestjs/bull';
import { performance } from 'node:perf_hooks';
import { Injectable, type INestApplicationContext, type Type } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { Queue } from 'bull';
import { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { register } from 'prom-client';
import type { FragmentBuildContext, FragmentBuilder } from './fragment-builder';
import { defineFragment } from './fragment-definition';
import { FragmentNotFoundError } from './fragment-errors';
import { connectFragmentEvents } from './fragment-events.transport';
import { FragmentGatewayModule } from './fragment-gateway.module';
import { FragmentInvalidator } from './fragment-invalidator';
import { FragmentNearCache } from './fragment-near-cache';
import { hashTagOf } from './fragment-key';
import type { FragmentModuleOptions } from './fragment-options';
import { FragmentResolver } from './fragment-resolver';
import { FragmentStore, type ReadCounter } from './fragment-store';
import { FragmentWorkerModule } from './fragment-worker.module';
import { FragmentModule } from './fragment.module';
import { FragmentReadMarks } from './fragment-read-marks';
import type { FragmentState } from './fragment-state';
import { FragmentWatcher } from './fragment-watcher';
import type { RedisClient, RedisTopology } from './redis-clients';
import { LocalRedisCluster } from './testing/local-redis-cluster';
import { LocalRedisSentinel, SENTINEL_MASTER_NAME } from './testing/local-redis-sentinel';
import {
  deleteKeysWithPrefix,
  singleRedisTopology,
  TEST_REDIS_URL,
  uniqueTestPrefix,
} from './testing/redis-test-prefix';
import { testFeedFragment, testProfileFragment } from './testing/test-fragments';
import { buildStatsKey } from './fragment-build-stats';
import { FragmentRetryAdvisor } from './fragment-retry-advisor';

/** Where the engine runs: the shared Redis, or a real 3-master Redis Cluster started for the run. */
interface Deployment {
  readonly redis: RedisClient;
  readonly topology: RedisTopology;
  readonly cluster?: LocalRedisCluster;
  /** Kills the master holding `key` and resolves once a replica took over; absent for one plain Redis. */
  failover?(key: string): Promise<void>;
  stop(): Promise<void>;
}

async function oneRedis(): Promise<Deployment> {
  const redis = new Redis(TEST_REDIS_URL);
  return { redis, topology: singleRedisTopology(), stop: async () => void (await redis.quit()) };
}

async function redisCluster(): Promise<Deployment> {
  const cluster = await LocalRedisCluster.start();
  const endpoint = { kind: 'cluster', nodes: cluster.seeds, auth: {} } as const;
  const redis = new Cluster(cluster.seeds);
  return {
    redis,
    cluster,
    topology: { cache: endpoint, queue: endpoint },
    failover: async (key) => {
      await cluster.kill(await cluster.masterOf(key));
      await cluster.waitHealthy();
    },
    stop: async () => {
      redis.disconnect();
      await cluster.stop();
    },
  };
}

async function sentinelRedis(): Promise<Deployment> {
  const sentinel = await LocalRedisSentinel.start();
  const endpoint = { kind: 'sentinel', sentinels: sentinel.sentinels, name: SENTINEL_MASTER_NAME, auth: {} } as const;
  const redis = new Redis({ sentinels: sentinel.sentinels, name: SENTINEL_MASTER_NAME });
  redis.on('error', () => undefined);
  return {
    redis,
    topology: { cache: endpoint, queue: endpoint },
    failover: async () => {
      await sentinel.kill(sentinel.masterPort);
      await sentinel.waitForMaster(sentinel.replicaPort);
    },
    stop: async () => {
      redis.disconnect();
      await sentinel.stop();
    },
  };
}

/** A fragment no worker of the test builds: its jobs stay queued, to be lost on purpose. */
const unbuiltFragment = defineFragment({
  name: 'test-unbuilt',
  queue: 'test-unbuilt',
  scope: 'viewer',
  version: 1,
  params: z.object({}).strict(),
  ttlMs: 60_000,
});

/** A fragment with short leases, to see lost jobs recovered quickly. */
const quickFragment = defineFragment({
  name: 'test-quick',
  queue: 'test-quick',
  scope: 'viewer',
  version: 1,
  params: z.object({}).strict(),
  ttlMs: 60_000,
  leaseMs: 1500,
  buildTimeoutMs: 500,
});

/** Counts builds per params and can be told to fail; lets the test see exactly what ran. */
@Injectable()
class CountingProfileBuilder implements FragmentBuilder<{ userId: number }> {
  static readonly builds = new Map<number, number>();
  static failFirstAttemptFor = new Set<number>();
  /** Builds that take long enough that their event surely comes after the watcher's first states. */
  static slowFor = new Set<number>();

  async build(params: { userId: number }, ctx: FragmentBuildContext): Promise<unknown> {
    CountingProfileBuilder.builds.set(params.userId, (CountingProfileBuilder.builds.get(params.userId) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, CountingProfileBuilder.slowFor.has(params.userId) ? 300 : 20));
    if (params.userId === 404) throw new FragmentNotFoundError(`user ${params.userId} not found`);
    if (CountingProfileBuilder.failFirstAttemptFor.has(params.userId) && ctx.attempt === 1)
      throw new Error('transient: connection reset');
    return { userId: params.userId, viewerId: ctx.viewerId };
  }
}

@Injectable()
class EchoFeedBuilder implements FragmentBuilder<Record<string, never>> {
  static builds = 0;

  async build(_params: Record<string, never>, ctx: FragmentBuildContext): Promise<unknown> {
    EchoFeedBuilder.builds += 1;
    return { owner: ctx.viewerId, build: EchoFeedBuilder.builds };
  }
}

async function start(
  options: FragmentModuleOptions,
  imports: Array<Type | ReturnType<typeof FragmentWorkerModule.register>>,
  receivesEvents = false,
): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule({
    imports: [FragmentModule.forRootAsync({ useFactory: () => options }), ...imports],
  }).compile();
  const app = moduleRef.createNestApplication(new FastifyAdapter(), { logger: false });
  if (receivesEvents) {
    connectFragmentEvents(app);
    await app.startAllMicroservices();
  }
  return app.init();
}

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await register.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

describe.each([
  ['one Redis', oneRedis],
  ['a Redis Cluster of 3 masters', redisCluster],
  ['a Sentinel-managed Redis', sentinelRedis],
])('fragment engine end to end on %s (real Bull)', (_where, deploy) => {
  const prefix = uniqueTestPrefix('engine');
  let deployment: Deployment;
  let options: FragmentModuleOptions;
  let gateway: INestApplicationContext;
  let resolver: FragmentResolver;
  let profileQueue: Queue;
  let redis: RedisClient;
  const workers: INestApplicationContext[] = [];
  const startWorker = async (registration: ReturnType<typeof FragmentWorkerModule.register>) => {
    const app = await start(options, [registration as never]);
    workers.push(app);
    return app;
  };

  beforeAll(async () => {
    deployment = await deploy();
    redis = deployment.redis;
    options = {
      redis: deployment.topology,
      keyPrefix: prefix,
      bullPrefix: `${prefix}bull`,
      connectionName: 'engine-test',
      nearCacheBytes: 1 << 20,
      worker: { concurrency: 4, lockDurationMs: 30_000, stalledIntervalMs: 30_000, drainTimeoutMs: 5000 },
    };
    CountingProfileBuilder.builds.clear();
    gateway = await start(
      options,
      [
        FragmentGatewayModule.register({
          fragments: [testProfileFragment, testFeedFragment, quickFragment, unbuiltFragment],
        }) as never,
      ],
      true,
    );
    resolver = gateway.get(FragmentResolver);
    profileQueue = gateway.get<Queue>(getQueueToken(testProfileFragment.queue));
  }, 60_000);

  afterAll(async () => {
    for (const app of workers) await app.close();
    await gateway?.close();
    await deleteKeysWithPrefix(redis, prefix).catch(() => 0);
    await deployment?.stop();
  });

  const profile = (userId: number, viewerId = 1) =>
    resolver.target(testProfileFragment, { userId: String(userId) }, { viewerId });

  it('turns 300 concurrent requests for one cold fragment into exactly one job', async () => {
    const before = await metricValue('fragment_enqueues_total', { fragment: 'test-profile' });
    const suppressedBefore = await metricValue('fragment_duplicates_suppressed_total', { fragment: 'test-profile' });
    const states = await Promise.all(Array.from({ length: 300 }, (_, i) => resolver.resolve([profile(1, i + 1)])));
    expect(states.every(([s]) => s!.status === 'pending')).toBe(true);
    expect(await profileQueue.getJobCounts()).toMatchObject({ waiting: 1, active: 0, delayed: 0 });
    expect((await metricValue('fragment_enqueues_total', { fragment: 'test-profile' })) - before).toBe(1);
    expect(
      (await metricValue('fragment_duplicates_suppressed_total', { fragment: 'test-profile' })) - suppressedBefore,
    ).toBe(299);
  });

  it('builds it once in a worker, then answers ready from Redis alone', async () => {
    await startWorker(
      FragmentWorkerModule.register({ fragment: testProfileFragment, builder: CountingProfileBuilder }),
    );
    const [state] = await resolver.resolve([profile(1)], { waitMs: 2000 });
    expect(state).toMatchObject({ status: 'ready' });
    expect(JSON.parse(state!.dataJson!)).toEqual({ userId: 1, viewerId: null });
    expect(CountingProfileBuilder.builds.get(1)).toBe(1);
    const warm = await Promise.all(Array.from({ length: 50 }, () => resolver.resolve([profile(1)])));
    expect(warm.every(([s]) => s!.status === 'ready')).toBe(true);
    expect(CountingProfileBuilder.builds.get(1)).toBe(1);
  });

  it('waits on the readiness event (not the deadline) for a cold fragment within waitMs', async () => {
    const before = await metricValue('fragment_waits_total', { fragment: 'test-profile', outcome: 'event' });
    const reads = jest.spyOn(gateway.get(FragmentStore), 'read');
    const [state] = await resolver.resolve([profile(2)], { waitMs: 2000 });
    expect(state).toMatchObject({ status: 'ready', dataJson: '{"userId":2,"viewerId":null}' });
    expect(await metricValue('fragment_waits_total', { fragment: 'test-profile', outcome: 'event' })).toBe(before + 1);
    // The request's read and one after subscribing; the event brought the copy, so no read after it.
    expect(reads).toHaveBeenCalledTimes(2);
    reads.mockRestore();
  });

  it('marks a fragment failed at once for a permanent error, without retries', async () => {
    const [state] = await resolver.resolve([profile(404)], { waitMs: 2000 });
    expect(state).toMatchObject({ status: 'failed', errorCode: 'not_found', error: 'user 404 not found' });
    expect(CountingProfileBuilder.builds.get(404)).toBe(1);
    const [again] = await resolver.resolve([profile(404)]);
    expect(again!.status).toBe('failed');
    expect(await profileQueue.getJobCounts()).toMatchObject({ waiting: 0, delayed: 0 });
  });

  it('retries a transient failure with backoff and keeps the fragment pending meanwhile', async () => {
    CountingProfileBuilder.failFirstAttemptFor.add(500);
    const [first] = await resolver.resolve([profile(500)], { waitMs: 300 });
    expect(first!.status).toBe('pending');
    const [state] = await resolver.resolve([profile(500)], { waitMs: 2000 });
    expect(state!.status).toBe('ready');
    expect(CountingProfileBuilder.builds.get(500)).toBe(2);
  });

  it('refuses a forged job whose key does not match its params', async () => {
    const target = profile(7);
    const forgedKey = `${prefix}frag:{u8}:test-profile:v1:pub:{"userId":8}`;
    const job = await profileQueue.add('build', {
      fragment: 'test-profile',
      key: forgedKey,
      generation: Date.now(),
      viewerId: null,
      params: target.params,
      enqueuedAt: Date.now(),
    });
    await expect(job.finished()).rejects.toThrow(/key does not match/);
    expect(await redis.exists(forgedKey)).toBe(0);
    expect(CountingProfileBuilder.builds.get(7)).toBeUndefined();
  });

  it('keeps viewer-scoped fragments apart', async () => {
    await startWorker(FragmentWorkerModule.register({ fragment: testFeedFragment, builder: EchoFeedBuilder }));
    const feed = (viewerId: number) => resolver.target(testFeedFragment, {}, { viewerId });
    const [a] = await resolver.resolve([feed(11)], { waitMs: 2000 });
    const [b] = await resolver.resolve([feed(12)], { waitMs: 2000 });
    expect(JSON.parse(a!.dataJson!)).toMatchObject({ owner: 11 });
    expect(JSON.parse(b!.dataJson!)).toMatchObject({ owner: 12 });
  });

  it('keeps interactive builds ahead of a flood of background rebuilds', async () => {
    const invalidator = gateway.get(FragmentInvalidator);
    const flood = Array.from({ length: 400 }, (_, i) => profile(10_000 + i));
    // Build and read them once, so that a write counts them as looked at.
    for (let i = 0; i < flood.length; i += 100) await resolver.resolve(flood.slice(i, i + 100), { waitMs: 2000 });
    await resolver.resolve(flood);
    const summary = await invalidator.invalidate(flood);
    expect(summary).toEqual({ absent: 0, stale: 0, rebuilding: 400 });
    const [state] = await resolver.resolve([profile(20_000)], { waitMs: 5000 });
    expect(state!.status).toBe('ready');
    // Most of the background flood is still queued when the interactive build is done.
    expect((await profileQueue.getJobCounts()).waiting).toBeGreaterThan(200);
  });

  it('resolves a viewer’s whole page (own profile and feed) in one script call on one slot', async () => {
    const viewer = 31;
    const page = [profile(viewer, viewer), resolver.target(testFeedFragment, {}, { viewerId: viewer })];
    expect(new Set(page.map((t) => hashTagOf(t.key)))).toEqual(new Set([`u${viewer}`]));
    const states = await resolver.resolve(page, { waitMs: 2000 });
    expect(states.map((s) => s.status)).toEqual(['ready', 'ready']);
  });

  it('serves counted pages from the near cache on every server, each request counted, until a write', async () => {
    const nearCache = gateway.get(FragmentNearCache);
    for (let i = 0; i < 500 && !nearCache.active; i++) await new Promise((r) => setTimeout(r, 10));
    expect(nearCache.active).toBe(true);
    const counter = (viewer: number): ReadCounter => ({
      hitsKey: `${prefix}rl:{u${viewer}}:hits`,
      blockedKey: `${prefix}rl:{u${viewer}}:blocked`,
      windowMs: 60_000,
      limit: 1000,
      blockMs: 60_000,
    });
    // Twelve viewers: their slots spread over every master of a Cluster.
    const viewers = Array.from({ length: 12 }, (_, i) => 70_000 + i);
    for (const viewer of viewers) {
      const page = [profile(viewer, viewer)];
      expect((await resolver.resolve(page, { waitMs: 2000 }))[0]?.status).toBe('ready');
      const reads = [];
      for (let i = 0; i < 3; i++) reads.push(await resolver.resolveCounted(page, counter(viewer)));
      expect(reads.map((r) => [r.count.hits, !r.blocked && r.states[0]?.status])).toEqual([
        [1, 'ready'],
        [2, 'ready'],
        [3, 'ready'],
      ]);
      // The first counted read kept it (a copy found pending by the wait above was not kept).
      expect(nearCache.lookup([page[0]!.key], performance.now())).toBeDefined();
      // The third count asked Redis for two hits: its own and one held by this gateway for the next.
      expect(Number(await redis.get(counter(viewer).hitsKey))).toBe(4);
    }
    const written = profile(viewers[0]!, viewers[0]);
    const [before] = await resolver.resolve([written]);
    await gateway.get(FragmentInvalidator).invalidate([written]);
    for (let i = 0; i < 200 && nearCache.lookup([written.key], performance.now()); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(nearCache.lookup([written.key], performance.now())).toBeUndefined();
    const after = await resolver.resolveCounted([written], counter(viewers[0]!));
    // The fourth request, a miss counted by the resolve script: Redis also holds the hit taken ahead.
    expect(after.count.hits).toBe(5);
    // Stale, or already rebuilt (the copy was read recently, so the write rebuilt it at once): never the old copy as ready.
    const state = !after.blocked ? after.states[0] : undefined;
    expect(state?.status === 'stale' || (state?.status === 'ready' && state.builtAt! > before!.builtAt!)).toBe(true);
  });

  it('spreads copies over every master of a Cluster', async () => {
    if (!deployment.cluster) return;
    await resolver.resolve(Array.from({ length: 60 }, (_, i) => profile(40_000 + i)));
    const masters = await deployment.cluster.masters();
    expect(masters).toHaveLength(3);
    for (const master of masters) {
      const node = new Redis({ host: '127.0.0.1', port: master.port });
      const keys = await node.keys(`${prefix}frag:*`);
      node.disconnect();
      expect(keys.length).toBeGreaterThan(0);
    }
  });

  it('brings a stream to ready when the job it waits for is lost, once its lease ends', async () => {
    const watcher = gateway.get(FragmentWatcher);
    const quickQueue = gateway.get<Queue>(getQueueToken(quickFragment.queue));
    const target = resolver.target(quickFragment, {}, { viewerId: 77 });
    const seen: string[] = [];
    let ready: () => void = () => undefined;
    const reachedReady = new Promise<void>((resolve) => (ready = resolve));
    const stop = await watcher.watch([target], {
      onState: (_i, state) => {
        seen.push(state.status);
        if (state.status === 'ready') ready();
      },
    });
    // The job is lost (deleted, as a crash that loses it would): nothing would ever build it.
    const [job] = await quickQueue.getJobs(['waiting']);
    expect(job).toBeDefined();
    await job!.remove();
    await startWorker(FragmentWorkerModule.register({ fragment: quickFragment, builder: EchoFeedBuilder }));
    await reachedReady;
    stop();
    expect(seen).toEqual(['pending', 'ready']);
  });

  it('hands a stream the built copy with its ready event, without reading it back', async () => {
    const watcher = gateway.get(FragmentWatcher);
    const reads = jest.spyOn(resolver, 'readSettled');
    CountingProfileBuilder.slowFor.add(60_001);
    const states: FragmentState[] = [];
    let ready: () => void = () => undefined;
    const reachedReady = new Promise<void>((resolve) => (ready = resolve));
    const stop = await watcher.watch([profile(60_001)], {
      onState: (_i, state) => {
        states.push(state);
        if (state.status === 'ready') ready();
      },
    });
    await reachedReady;
    stop();
    expect(states.map((s) => s.status)).toEqual(['pending', 'ready']);
    expect(JSON.parse(states[1]!.dataJson!)).toEqual({ userId: 60_001, viewerId: null });
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
  });

  it('pushes a rebuild to an open stream after a write, even when the copy was last read long ago', async () => {
    const watcher = gateway.get(FragmentWatcher);
    const invalidator = gateway.get(FragmentInvalidator);
    const target = resolver.target(testFeedFragment, {}, { viewerId: 88 });
    await resolver.resolve([target], { waitMs: 2000 });
    const states: FragmentState[] = [];
    let rebuilt: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (rebuilt = resolve));
    const buildOf = (state: FragmentState) => (JSON.parse(state.dataJson ?? '{}') as { build?: number }).build ?? 0;
    const stop = await watcher.watch([target], {
      onState: (_i, state) => {
        states.push(state);
        if (state.status === 'ready' && states.length > 1 && buildOf(state) > buildOf(states[0]!)) rebuilt();
      },
    });
    // The tab has been open longer than the active window: the copy's read mark is old.
    await redis.hset(target.key, 'r', Date.now() - 60 * 60_000);
    await gateway.get(FragmentReadMarks).mark(); // what the gateway does every minute for open streams
    await invalidator.invalidate([target]);
    await arrived; // (stale while it rebuilds, when the build is slower than the read) then the rebuilt copy
    stop();
    expect(states[0]!.status).toBe('ready');
    expect(states.at(-1)!.status).toBe('ready');
  });

  it('enqueues a queued build again when its job was lost, as soon as someone asks', async () => {
    const queue = gateway.get<Queue>(getQueueToken(unbuiltFragment.queue));
    const target = resolver.target(unbuiltFragment, {}, { viewerId: 61 });
    const [first] = await resolver.resolve([target]);
    expect(first!.status).toBe('pending');
    const [job] = await queue.getJobs(['waiting']);
    expect(job).toBeDefined();
    await job!.remove(); // a failover lost it; the lease (30 s) lives on
    await new Promise((r) => setTimeout(r, 3100)); // older than a job surely still in its queue
    const repairedBefore = await metricValue('fragment_jobs_repaired_total', { fragment: 'test-unbuilt' });
    await resolver.resolve([target]); // finds the copy waiting on a job that does not exist
    const deadline = Date.now() + 5000;
    while ((await queue.getJob(String(job!.id))) === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await queue.getJob(String(job!.id))).not.toBeNull(); // the same generation, enqueued again
    expect(await metricValue('fragment_jobs_repaired_total', { fragment: 'test-unbuilt' })).toBe(repairedBefore + 1);
    await resolver.resolve([target]); // a job that exists is left alone
    expect(await queue.getJobCounts()).toMatchObject({ waiting: 1 });
  }, 20_000);

  it('tells a pending request when to ask again from the real backlog and the published build time', async () => {
    const queue = gateway.get<Queue>(getQueueToken(unbuiltFragment.queue));
    // A backlog nobody works on (no worker builds this fragment), and its workers' published build time.
    await resolver.resolve(
      Array.from({ length: 8 }, (_, i) => resolver.target(unbuiltFragment, {}, { viewerId: 900 + i })),
    );
    await redis.hset(buildStatsKey(prefix), unbuiltFragment.name, '400');
    const { waiting, delayed, active } = await queue.getJobCounts();
    expect(waiting).toBeGreaterThanOrEqual(8);
    expect(active).toBe(0);
    await gateway.get(FragmentRetryAdvisor).refresh();
    const [state] = await resolver.resolve([resolver.target(unbuiltFragment, {}, { viewerId: 950 })]);
    // Every job ahead is one build at a time (nothing active), then this one's own build.
    expect(state).toMatchObject({ status: 'pending', retryAfterMs: (waiting + delayed + 1) * 400 });
  });

  it('answers "unavailable" (never a bug) while its master fails over, and serves again without a restart', async () => {
    if (!deployment.failover) return;
    const target = profile(50_001);
    await resolver.resolve([target], { waitMs: 2000 });
    const failedOver = deployment.failover(target.key);
    const errors = new Set<string>();
    let served = 0;
    while (
      !(await Promise.race([failedOver.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 20))]))
    ) {
      try {
        await resolver.resolve([target]);
        served += 1;
      } catch (error) {
        errors.add((error as Error).name);
      }
    }
    expect([...errors].every((name) => name === 'FragmentStoreUnavailableError')).toBe(true);
    // Recovered by itself: the copy (or its rebuild, if the failover lost it) is served again.
    const deadline = Date.now() + 30_000;
    let state: FragmentState | undefined;
    while (Date.now() < deadline) {
      [state] = await resolver.resolve([profile(50_002)], { waitMs: 2000 }).catch(() => [undefined]);
      // A rejection comes at once while Redis is away: yield, or reconnecting never gets its turn.
      if (state?.status !== 'ready') await new Promise((r) => setTimeout(r, 50));
      if (state?.status === 'ready') break;
    }
    expect(state?.status).toBe('ready');
    expect(served + errors.size).toBeGreaterThan(0);
  }, 90_000);
});
