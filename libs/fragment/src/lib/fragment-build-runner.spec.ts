import type { FragmentBuildContext, FragmentBuilder } from './fragment-builder';
import { FragmentAttemptError, FragmentBuildRunner } from './fragment-build-runner';
import { defineFragment } from './fragment-definition';
import { FragmentNotFoundError } from './fragment-errors';
import { fragmentLocation } from './fragment-key';
import type { FragmentBuildStats } from './fragment-build-stats';
import { FragmentBuildMetrics } from './fragment-metrics';
import type { CompleteResult, FragmentStore } from './fragment-store';
import { singleRedisTopology } from './testing/redis-test-prefix';
import { testProfileFragment } from './testing/test-fragments';

/** An in-memory stand-in for the store: unit tests only check what the harness asks of it. */
function fakeStore(claim: 'claimed' | 'superseded' = 'claimed', complete: CompleteResult = { outcome: 'written' }) {
  return {
    claim: jest
      .fn()
      .mockResolvedValue(
        claim === 'claimed'
          ? { outcome: 'claimed', generation: 9, minLsn: '16/B374D848' }
          : { outcome: 'superseded', reason: 'busy' },
      ),
    complete: jest.fn().mockResolvedValue(complete),
    fail: jest.fn().mockResolvedValue({ outcome: 'failed' }),
    runningBuild: jest.fn().mockResolvedValue({ jobId: 'j1', generation: 9 }),
  };
}

const prefix = 'unit:';
const keyFor = (userId: number) => fragmentLocation(prefix, testProfileFragment, null, { userId }).key;
const payload = (userId: number, extra: Record<string, unknown> = {}) => ({
  fragment: 'test-profile',
  key: keyFor(userId),
  generation: 5,
  viewerId: null,
  params: { userId },
  enqueuedAt: Date.now(),
  ...extra,
});

function runner(builder: FragmentBuilder, store = fakeStore(), definition = testProfileFragment) {
  const instance = new FragmentBuildRunner(
    store as unknown as FragmentStore,
    new FragmentBuildMetrics(),
    { record: jest.fn() } as unknown as FragmentBuildStats,
    definition,
    builder,
    { redis: singleRedisTopology('redis://unused'), keyPrefix: prefix, bullPrefix: 'bull' },
  );
  return { instance, store };
}

const echo: FragmentBuilder = { build: async (params) => ({ params }) };

describe('FragmentBuildRunner', () => {
  it('records a job Bull failed as stalled as its copy’s final failure, when it is still the running build', async () => {
    const { instance, store } = runner(echo);
    await instance.recordStalled({ payload: payload(3), jobId: 'j1', maxAttempts: 5 });
    expect(store.fail).toHaveBeenCalledWith(
      keyFor(3),
      9,
      'j1',
      { message: 'build failed after 5 attempts', code: 'build_failed' },
      expect.objectContaining({ final: true }),
    );
    store.fail.mockClear();
    await instance.recordStalled({ payload: payload(3), jobId: 'another job', maxAttempts: 5 });
    expect(store.fail).not.toHaveBeenCalled();
  });

  it('builds, serialises and writes with the definition ttl', async () => {
    const { instance, store } = runner(echo);
    await expect(instance.run({ payload: payload(3), attempt: 1, maxAttempts: 3, jobId: 'j1' })).resolves.toBe('built');
    expect(store.claim).toHaveBeenCalledWith(keyFor(3), 'j1', expect.any(Number), 'interactive');
    expect(store.complete).toHaveBeenCalledWith(keyFor(3), 9, 'j1', '{"params":{"userId":3}}', expect.any(String), {
      ttlMs: 60_000,
      staleMs: 600_000,
      activeWindowMs: 600_000,
      leaseMs: 30_000,
    });
  });

  it('writes with a shorter ttl when the builder limits it, never a longer one', async () => {
    const limiting = (ms: number): FragmentBuilder => ({
      build: async (_p, ctx) => {
        ctx.limitTtl?.(ms);
        return 1;
      },
    });
    const short = runner(limiting(1_000));
    await short.instance.run({ payload: payload(3), attempt: 1, maxAttempts: 3, jobId: 'j1' });
    expect(short.store.complete.mock.calls[0][5]).toMatchObject({ ttlMs: 1_000, staleMs: 600_000 });
    const long = runner(limiting(120_000));
    await long.instance.run({ payload: payload(3), attempt: 1, maxAttempts: 3, jobId: 'j1' });
    expect(long.store.complete.mock.calls[0][5]).toMatchObject({ ttlMs: 60_000 });
  });

  it('hands the build the write position it must read at, from its claim', async () => {
    let seen: FragmentBuildContext | undefined;
    const { instance } = runner({
      build: async (_p, ctx) => {
        seen = ctx;
        return 1;
      },
    });
    await instance.run({ payload: payload(3), attempt: 1, maxAttempts: 3, jobId: 'j1' });
    expect(seen?.minLsn).toBe('16/B374D848');
  });

  it('reports a build a write overtook as stale and enqueues its one follow-up', async () => {
    const followUp = { generation: 11, lane: 'background' as const, delayMs: 0 };
    const store = fakeStore('claimed', { outcome: 'stale', followUp });
    const { instance } = runner(echo, store);
    const enqueueFollowUp = jest.fn().mockResolvedValue(undefined);
    await expect(
      instance.run({ payload: payload(3), attempt: 1, maxAttempts: 3, jobId: 'j1', enqueueFollowUp }),
    ).resolves.toBe('stale');
    expect(enqueueFollowUp).toHaveBeenCalledWith(expect.objectContaining({ key: keyFor(3) }), followUp);
  });

  it('skips a superseded build without running the builder', async () => {
    const build = jest.fn();
    const { instance, store } = runner({ build }, fakeStore('superseded'));
    await expect(instance.run({ payload: payload(3), attempt: 1, maxAttempts: 3, jobId: 'j1' })).resolves.toBe(
      'superseded',
    );
    expect(build).not.toHaveBeenCalled();
    expect(store.complete).not.toHaveBeenCalled();
  });

  it.each([
    ['a key that does not match the params', payload(3, { key: keyFor(4) })],
    ['another fragment', payload(3, { fragment: 'test-feed' })],
    ['params that do not validate', payload(3, { params: { userId: -1 } })],
    ['a missing generation', payload(3, { generation: undefined })],
    ['a key under another prefix', payload(3, { key: `other:${keyFor(3)}` })],
  ])('refuses a job with %s, writing nothing', async (_case, bad) => {
    const build = jest.fn();
    const { instance, store } = runner({ build });
    const error = await instance
      .run({ payload: bad, attempt: 1, maxAttempts: 3, jobId: 'j1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FragmentAttemptError);
    expect((error as FragmentAttemptError).retry).toBe(false);
    expect(build).not.toHaveBeenCalled();
    expect(store.claim).not.toHaveBeenCalled();
    expect(store.fail).not.toHaveBeenCalled();
  });

  it('records a permanent error as failed at once, with the builder message', async () => {
    const { instance, store } = runner({
      build: async () => Promise.reject(new FragmentNotFoundError('user 3 not found')),
    });
    const error = (await instance
      .run({ payload: payload(3), attempt: 1, maxAttempts: 3, jobId: 'j1' })
      .catch((e: unknown) => e)) as FragmentAttemptError;
    expect(error.retry).toBe(false);
    expect(error.code).toBe('not_found');
    expect(store.fail).toHaveBeenCalledWith(
      keyFor(3),
      9,
      'j1',
      { message: 'user 3 not found', code: 'not_found' },
      expect.objectContaining({
        final: true,
        failedTtlMs: 5000,
      }),
    );
  });

  it('keeps a transient error retryable until the last attempt, hiding its detail from clients', async () => {
    const { instance, store } = runner({
      build: async () => Promise.reject(new Error('password authentication failed for "x"')),
    });
    const first = (await instance
      .run({ payload: payload(3), attempt: 1, maxAttempts: 2, jobId: 'j1' })
      .catch((e: unknown) => e)) as FragmentAttemptError;
    expect(first.retry).toBe(true);
    expect(store.fail).toHaveBeenLastCalledWith(
      keyFor(3),
      9,
      'j1',
      { message: 'build failed after 1 attempt', code: 'build_failed' },
      expect.objectContaining({
        final: false,
        failedTtlMs: 5000,
      }),
    );
    const last = (await instance
      .run({ payload: payload(3), attempt: 2, maxAttempts: 2, jobId: 'j1' })
      .catch((e: unknown) => e)) as FragmentAttemptError;
    expect(last.retry).toBe(false);
    expect(store.fail).toHaveBeenLastCalledWith(
      keyFor(3),
      9,
      'j1',
      { message: 'build failed after 2 attempts', code: 'build_failed' },
      expect.objectContaining({
        final: true,
        failedTtlMs: 5000,
      }),
    );
  });

  it('aborts a build that overruns its timeout and passes the abort on', async () => {
    const quick = defineFragment({ ...testProfileFragment, buildTimeoutMs: 30, leaseMs: 1000 });
    let seen: FragmentBuildContext | undefined;
    const slow: FragmentBuilder = {
      build: (_p, ctx) => {
        seen = ctx;
        return new Promise(() => undefined);
      },
    };
    const { instance, store } = runner(slow, fakeStore(), quick);
    const error = (await instance
      .run({ payload: payload(3), attempt: 1, maxAttempts: 3, jobId: 'j1' })
      .catch((e: unknown) => e)) as FragmentAttemptError;
    expect(error.code).toBe('timeout');
    expect(seen?.signal.aborted).toBe(true);
    expect(store.fail).toHaveBeenCalledWith(
      keyFor(3),
      9,
      'j1',
      { message: 'build timed out after 1 attempt', code: 'timeout' },
      expect.objectContaining({
        final: false,
        failedTtlMs: 5000,
      }),
    );
  });
});
