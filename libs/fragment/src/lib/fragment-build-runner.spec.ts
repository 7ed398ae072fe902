import type { FragmentBuildContext, FragmentBuilder } from './fragment-builder';
import { FragmentAttemptError, FragmentBuildRunner } from './fragment-build-runner';
import { defineFragment } from './fragment-definition';
import { FragmentNotFoundError } from './fragment-errors';
import { fragmentId, fragmentKey } from './fragment-key';
import type { FragmentBuildStats } from './fragment-build-stats';
import { FragmentBuildMetrics } from './fragment-metrics';
import type { FragmentStore } from './fragment-store';
import { testProfileFragment } from './testing/test-fragments';

/** An in-memory stand-in for the store: unit tests only check what the harness asks of it. */
function fakeStore(claim: 'claimed' | 'superseded' = 'claimed') {
  return {
    claim: jest.fn().mockResolvedValue(claim),
    complete: jest.fn().mockResolvedValue(true),
    fail: jest.fn().mockResolvedValue('failed'),
  };
}

const prefix = 'unit:';
const keyFor = (userId: number) => fragmentKey(prefix, fragmentId(testProfileFragment, null, { userId }));
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
    { redisUrl: 'redis://unused', keyPrefix: prefix, bullPrefix: 'bull' },
  );
  return { instance, store };
}

const echo: FragmentBuilder = { build: async (params) => ({ params }) };

describe('FragmentBuildRunner', () => {
  it('builds, serialises and writes with the definition ttl', async () => {
    const { instance, store } = runner(echo);
    await expect(instance.run({ payload: payload(3), attempt: 1, maxAttempts: 3, jobId: 'j1' })).resolves.toBe('built');
    expect(store.complete).toHaveBeenCalledWith(
      keyFor(3),
      5,
      '{"params":{"userId":3}}',
      expect.any(String),
      60_000,
      600_000,
    );
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
      5,
      { message: 'user 3 not found', code: 'not_found' },
      true,
      5000,
      expect.any(Number),
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
      5,
      { message: 'build failed after 1 attempt', code: 'build_failed' },
      false,
      5000,
      expect.any(Number),
    );
    const last = (await instance
      .run({ payload: payload(3), attempt: 2, maxAttempts: 2, jobId: 'j1' })
      .catch((e: unknown) => e)) as FragmentAttemptError;
    expect(last.retry).toBe(false);
    expect(store.fail).toHaveBeenLastCalledWith(
      keyFor(3),
      5,
      { message: 'build failed after 2 attempts', code: 'build_failed' },
      true,
      5000,
      expect.any(Number),
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
      5,
      { message: 'build timed out after 1 attempt', code: 'timeout' },
      false,
      5000,
      expect.any(Number),
    );
  });
});
