import { getQueueToken } from '@nestjs/bull';
import { Injectable, type INestApplicationContext, type Type } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { Queue } from 'bull';
import { Redis } from 'ioredis';
import { register } from 'prom-client';
import type { FragmentBuildContext, FragmentBuilder } from './fragment-builder';
import { FragmentNotFoundError } from './fragment-errors';
import { connectFragmentEvents } from './fragment-events.transport';
import { FragmentGatewayModule } from './fragment-gateway.module';
import { FragmentInvalidator } from './fragment-invalidator';
import type { FragmentModuleOptions } from './fragment-options';
import { FragmentResolver } from './fragment-resolver';
import { FragmentWorkerModule } from './fragment-worker.module';
import { FragmentModule } from './fragment.module';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueTestPrefix } from './testing/redis-test-prefix';
import { testFeedFragment, testProfileFragment } from './testing/test-fragments';

const prefix = uniqueTestPrefix('engine');
const options: FragmentModuleOptions = {
  redisUrl: TEST_REDIS_URL,
  keyPrefix: prefix,
  bullPrefix: `${prefix}bull`,
  connectionName: 'engine-test',
  worker: { concurrency: 4, lockDurationMs: 30_000, stalledIntervalMs: 30_000, drainTimeoutMs: 5000 },
};

/** Counts builds per params and can be told to fail; lets the test see exactly what ran. */
@Injectable()
class CountingProfileBuilder implements FragmentBuilder<{ userId: number }> {
  static readonly builds = new Map<number, number>();
  static failFirstAttemptFor = new Set<number>();

  async build(params: { userId: number }, ctx: FragmentBuildContext): Promise<unknown> {
    CountingProfileBuilder.builds.set(params.userId, (CountingProfileBuilder.builds.get(params.userId) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 20));
    if (params.userId === 404) throw new FragmentNotFoundError(`user ${params.userId} not found`);
    if (CountingProfileBuilder.failFirstAttemptFor.has(params.userId) && ctx.attempt === 1)
      throw new Error('transient: connection reset');
    return { userId: params.userId, viewerId: ctx.viewerId };
  }
}

@Injectable()
class EchoFeedBuilder implements FragmentBuilder<Record<string, never>> {
  async build(_params: Record<string, never>, ctx: FragmentBuildContext): Promise<unknown> {
    return { owner: ctx.viewerId };
  }
}

async function start(
  imports: Array<Type | ReturnType<typeof FragmentWorkerModule.register>>,
): Promise<INestApplicationContext> {
  const moduleRef = await Test.createTestingModule({
    imports: [FragmentModule.forRootAsync({ useFactory: () => options }), ...imports],
  }).compile();
  const app = moduleRef.createNestApplication(new FastifyAdapter(), { logger: false });
  connectFragmentEvents(app);
  await app.startAllMicroservices();
  return app.init();
}

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await register.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

describe('fragment engine end to end (real Redis, real Bull)', () => {
  let gateway: INestApplicationContext;
  let resolver: FragmentResolver;
  let profileQueue: Queue;
  const workers: INestApplicationContext[] = [];
  const redis = new Redis(TEST_REDIS_URL);

  beforeAll(async () => {
    gateway = await start([
      FragmentGatewayModule.register({ fragments: [testProfileFragment, testFeedFragment] }) as never,
    ]);
    resolver = gateway.get(FragmentResolver);
    profileQueue = gateway.get<Queue>(getQueueToken(testProfileFragment.queue));
  });

  afterAll(async () => {
    for (const app of workers) await app.close();
    await gateway.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
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
    workers.push(
      await start([
        FragmentWorkerModule.register({ fragment: testProfileFragment, builder: CountingProfileBuilder }) as never,
      ]),
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
    const [state] = await resolver.resolve([profile(2)], { waitMs: 2000 });
    expect(state!.status).toBe('ready');
    expect(await metricValue('fragment_waits_total', { fragment: 'test-profile', outcome: 'event' })).toBe(before + 1);
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
    const forgedKey = `${prefix}frag:test-profile:v1:pub:{"userId":8}`;
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
    workers.push(
      await start([FragmentWorkerModule.register({ fragment: testFeedFragment, builder: EchoFeedBuilder }) as never]),
    );
    const feed = (viewerId: number) => resolver.target(testFeedFragment, {}, { viewerId });
    const [a] = await resolver.resolve([feed(11)], { waitMs: 2000 });
    const [b] = await resolver.resolve([feed(12)], { waitMs: 2000 });
    expect(JSON.parse(a!.dataJson!)).toEqual({ owner: 11 });
    expect(JSON.parse(b!.dataJson!)).toEqual({ owner: 12 });
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
});
