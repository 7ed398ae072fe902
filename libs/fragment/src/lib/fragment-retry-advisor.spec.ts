import type { Redis } from 'ioredis';
import type { FragmentEnqueuer } from './fragment-enqueuer';
import { FragmentRetryAdvisor } from './fragment-retry-advisor';
import type { FragmentModuleOptions } from './fragment-options';
import { testFeedFragment, testProfileFragment } from './testing/test-fragments';

/** An advisor over stubbed figures: build times per fragment and job counts per queue. */
function advisorWith(buildMs: Record<string, string>, counts: Record<string, Record<string, number>>) {
  const redis = { hgetall: jest.fn(async () => buildMs) } as unknown as Redis;
  const enqueuer = {
    queueByName: (name: string) => ({ getJobCounts: async () => counts[name] ?? {} }),
  } as unknown as FragmentEnqueuer;
  const advisor = new FragmentRetryAdvisor(
    redis,
    { keyPrefix: 't:' } as FragmentModuleOptions,
    [testProfileFragment, testFeedFragment],
    enqueuer,
  );
  return { advisor, redis };
}

describe('FragmentRetryAdvisor: Retry-After from build time and backlog', () => {
  it('is the build time times the rounds of builds ahead: waiting (and delayed) over active, plus one', async () => {
    const { advisor } = advisorWith(
      { 'test-profile': '200', 'test-feed': '40' },
      {
        [testProfileFragment.queue]: { waiting: 6, delayed: 2, active: 2 },
        [testFeedFragment.queue]: { waiting: 0, active: 0 },
      },
    );
    await advisor.refresh();
    expect(advisor.retryAfterMs(testProfileFragment)).toBe(((6 + 2) / 2 + 1) * 200); // 1000
    expect(advisor.retryAfterMs(testFeedFragment)).toBe(100); // one 40 ms build, raised to the floor
  });

  it('counts a queue nobody works on as one build at a time, and caps the wait at 30 s', async () => {
    const { advisor } = advisorWith({ 'test-profile': '500' }, { [testProfileFragment.queue]: { waiting: 9 } });
    await advisor.refresh();
    expect(advisor.retryAfterMs(testProfileFragment)).toBe((9 + 1) * 500);
    const { advisor: swamped } = advisorWith(
      { 'test-profile': '500' },
      { [testProfileFragment.queue]: { waiting: 1000, active: 1 } },
    );
    await swamped.refresh();
    expect(swamped.retryAfterMs(testProfileFragment)).toBe(30_000);
  });

  it('assumes 250 ms for a fragment with no published build time, and keeps its figures when Redis fails', async () => {
    const { advisor, redis } = advisorWith({}, {});
    await advisor.refresh();
    expect(advisor.retryAfterMs(testFeedFragment)).toBe(250);
    (redis.hgetall as jest.Mock).mockResolvedValueOnce({ 'test-feed': '1000' });
    await advisor.refresh();
    (redis.hgetall as jest.Mock).mockRejectedValueOnce(new Error('Connection is closed.'));
    await advisor.refresh();
    expect(advisor.retryAfterMs(testFeedFragment)).toBe(1000);
  });
});
