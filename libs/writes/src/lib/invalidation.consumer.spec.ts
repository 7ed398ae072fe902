import type {
  FragmentInvalidator,
  FragmentModuleOptions,
  FragmentTarget,
  QueueDepthCollector,
} from '@worker-pattern/fragment';
import type { Queue } from 'bull';
import type { InvalidationFanout } from './invalidation-fanout';
import { InvalidationConsumer } from './invalidation.consumer';
import type { InvalidationJobData } from './write-events';

describe('InvalidationConsumer', () => {
  const targets = [{ key: 'wp:{u2}:frag:feed' }] as unknown as FragmentTarget[];
  const summary = { absent: 0, stale: 1, rebuilding: 0 };

  function consumer() {
    const fanout = { targetsOf: jest.fn().mockResolvedValue(targets) };
    const invalidator = { invalidate: jest.fn().mockResolvedValue(summary) };
    const handler = new InvalidationConsumer(
      {} as Queue<InvalidationJobData>,
      {} as FragmentModuleOptions,
      fanout as unknown as InvalidationFanout,
      invalidator as unknown as FragmentInvalidator,
      {} as QueueDepthCollector,
    );
    return { handler, fanout, invalidator };
  }

  const job: InvalidationJobData = {
    outboxId: '41',
    event: { type: 'post.created', authorId: 1, postId: '900' },
    writtenAt: Date.now(),
    lsn: '0/3016060',
  };

  it("hands the write's WAL position to the invalidation, so rebuilds read data at least that fresh", async () => {
    const { handler, fanout, invalidator } = consumer();
    await expect(handler.handle(job)).resolves.toEqual(summary);
    expect(fanout.targetsOf).toHaveBeenCalledWith(job.event);
    expect(invalidator.invalidate).toHaveBeenCalledWith(targets, { requestId: 'outbox.41', lsn: '0/3016060' });
  });

  it('still invalidates a job queued before relays recorded positions (no fence)', async () => {
    const { handler, invalidator } = consumer();
    const { lsn: _, ...old } = job;
    await handler.handle(old);
    expect(invalidator.invalidate).toHaveBeenCalledWith(targets, { requestId: 'outbox.41', lsn: undefined });
  });

  it('refuses a job whose position is not a WAL position, invalidating nothing', async () => {
    const { handler, invalidator } = consumer();
    await expect(handler.handle({ ...job, lsn: '3016060' })).rejects.toThrow(/WAL position/);
    expect(invalidator.invalidate).not.toHaveBeenCalled();
  });
});
