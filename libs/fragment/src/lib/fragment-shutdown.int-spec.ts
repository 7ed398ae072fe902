import { getQueueToken } from '@nestjs/bull';
import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Queue } from 'bull';
import { Redis } from 'ioredis';
import { z } from 'zod';
import type { FragmentBuildContext, FragmentBuilder } from './fragment-builder';
import { defineFragment } from './fragment-definition';
import { FragmentProducerModule } from './fragment-producer.module';
import type { FragmentModuleOptions } from './fragment-options';
import { FragmentStore } from './fragment-store';
import { FragmentTargets } from './fragment-targets';
import { FragmentEnqueuer } from './fragment-enqueuer';
import { FragmentWorkerModule } from './fragment-worker.module';
import { FragmentModule } from './fragment.module';
import {
  deleteKeysWithPrefix,
  singleRedisTopology,
  TEST_REDIS_URL,
  uniqueTestPrefix,
} from './testing/redis-test-prefix';

const slowFragment = defineFragment({
  name: 'test-slow',
  queue: 'test-slow',
  scope: 'public',
  version: 1,
  params: z.object({ n: z.number().int() }).strict(),
  ttlMs: 60_000,
  buildTimeoutMs: 20_000,
});

/** Builds block until the test lets them go; a build may ignore its abort signal, like a stuck query. */
@Injectable()
class GatedBuilder implements FragmentBuilder<{ n: number }> {
  static release: () => void = () => undefined;
  static started = 0;
  static finished = 0;
  private static gate = new Promise<void>((resolve) => (GatedBuilder.release = resolve));

  static reset(): void {
    GatedBuilder.gate = new Promise<void>((resolve) => (GatedBuilder.release = resolve));
  }

  async build(params: { n: number }, _ctx: FragmentBuildContext): Promise<unknown> {
    GatedBuilder.started += 1;
    await GatedBuilder.gate;
    GatedBuilder.finished += 1;
    return { n: params.n };
  }
}

describe('worker shutdown (real Redis, real Bull)', () => {
  const prefix = uniqueTestPrefix('shutdown');
  const redis = new Redis(TEST_REDIS_URL);
  const options = (drainTimeoutMs: number): FragmentModuleOptions => ({
    redis: singleRedisTopology(),
    keyPrefix: prefix,
    bullPrefix: `${prefix}bull`,
    connectionName: 'shutdown-test',
    worker: { concurrency: 2, lockDurationMs: 30_000, stalledIntervalMs: 30_000, drainTimeoutMs },
  });
  let producer: INestApplicationContext;

  const start = async (imports: unknown[], drainTimeoutMs = 500): Promise<INestApplicationContext> =>
    (
      await Test.createTestingModule({
        imports: [FragmentModule.forRootAsync({ useFactory: () => options(drainTimeoutMs) }), ...(imports as never[])],
      }).compile()
    ).init();
  const worker = (drainTimeoutMs?: number) =>
    start([FragmentWorkerModule.register({ fragment: slowFragment, builder: GatedBuilder })], drainTimeoutMs);

  beforeAll(async () => {
    producer = await start([FragmentProducerModule.register({ fragments: [slowFragment] })]);
  });

  afterAll(async () => {
    GatedBuilder.release();
    await producer.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  async function enqueue(n: number): Promise<string> {
    const target = producer.get(FragmentTargets).of(slowFragment, { n }, { viewerId: 1 });
    const [state] = await producer.get(FragmentStore).read([{ key: target.key, leaseMs: slowFragment.leaseMs }], true);
    await producer.get(FragmentEnqueuer).enqueue([{ target, generation: state!.takenGeneration }]);
    return target.key;
  }

  async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('condition not met');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const queue = () => producer.get<Queue>(getQueueToken(slowFragment.queue));

  it('lets in-flight builds finish when they do so within the drain budget', async () => {
    GatedBuilder.reset();
    const first = await worker(5000);
    const started = GatedBuilder.started;
    const key = await enqueue(1);
    await until(async () => GatedBuilder.started > started);
    const closing = first.close();
    setTimeout(() => GatedBuilder.release(), 200);
    await closing;
    expect(await redis.hget(key, 'd')).toBe('{"n":1}');
    expect(await queue().getJobCounts()).toMatchObject({ active: 0, waiting: 0, delayed: 0, failed: 0 });
  });

  it('hands unfinished builds back to the queue after the budget, without spending an attempt', async () => {
    GatedBuilder.reset();
    const first = await worker(300);
    const started = GatedBuilder.started;
    const key = await enqueue(2);
    await until(async () => GatedBuilder.started > started);
    await first.close(); // the build is still blocked: after 300 ms it is handed back
    expect(await redis.hget(key, 'd')).toBeNull();
    const [job] = await queue().getJobs(['waiting', 'delayed']);
    expect(job?.attemptsMade).toBe(0);
    GatedBuilder.release();
    const second = await worker();
    await until(async () => (await redis.hget(key, 'd')) === '{"n":2}');
    await second.close();
    expect((await queue().getJobCounts()).failed).toBe(0);
  });
});
