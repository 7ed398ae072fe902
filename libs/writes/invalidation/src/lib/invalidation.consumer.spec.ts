import type {
  FragmentInvalidator,
  FragmentModuleOptions,
  FragmentTarget,
  QueueDepthCollector,
} from '@worker-pattern/fragment';
import type { Queue } from 'bull';
import type { FeedPage, InvalidationFanout, WriteFanout } from './invalidation-fanout';
import { InvalidationConsumer } from './invalidation.consumer';
import type { FanoutChunkJobData, InvalidationJobData } from './invalidation-jobs';

const target = (key: string) => ({ key }) as unknown as FragmentTarget;

describe('InvalidationConsumer', () => {
  const profile = target('wp:frag:{u1}:profile');
  const summary = { absent: 0, stale: 1, rebuilding: 0 };

  /** Followers 2..(1 + followers) of author 1, in pages of `pageSize`. */
  function consumer(plan: WriteFanout, followers = 0, pageSize = 2) {
    const ids = Array.from({ length: followers }, (_, i) => i + 2);
    const fanout = {
      of: jest.fn().mockResolvedValue(plan),
      feedsAfter: jest.fn(async (_author: number, cursor: number): Promise<FeedPage> => {
        const page = ids.filter((id) => id > cursor).slice(0, pageSize + 1);
        const more = page.length > pageSize;
        const kept = page.slice(0, pageSize);
        return { targets: kept.map((id) => target(`feed:${id}`)), next: more ? kept[kept.length - 1] : null };
      }),
    };
    const invalidator = { invalidate: jest.fn().mockResolvedValue(summary) };
    const queue = { add: jest.fn().mockResolvedValue(undefined) };
    const handler = new InvalidationConsumer(
      queue as unknown as Queue<InvalidationJobData>,
      {} as FragmentModuleOptions,
      fanout as unknown as InvalidationFanout,
      invalidator as unknown as FragmentInvalidator,
      {} as QueueDepthCollector,
    );
    return { handler, fanout, invalidator, queue };
  }

  const job: InvalidationJobData = {
    outboxId: '41',
    event: { type: 'post.created', authorId: 1, postId: '900' },
    writtenAt: Date.now(),
    lsn: '0/3016060',
  };
  const push: WriteFanout = { targets: [profile], followers: { authorId: 1, mode: 'push' } };

  it("hands the write's WAL position to every invalidation, so rebuilds read data at least that fresh", async () => {
    const { handler, fanout, invalidator } = consumer(push, 1);
    await expect(handler.handle(job)).resolves.toEqual({ absent: 0, stale: 2, rebuilding: 0 });
    expect(fanout.of).toHaveBeenCalledWith(job.event);
    expect(invalidator.invalidate).toHaveBeenNthCalledWith(1, [profile], { requestId: 'outbox.41', lsn: '0/3016060' });
    expect(invalidator.invalidate).toHaveBeenNthCalledWith(2, [target('feed:2')], {
      requestId: 'outbox.41',
      lsn: '0/3016060',
    });
  });

  it("takes the first page of a post's followers itself and queues the next page with its cursor", async () => {
    const { handler, fanout, invalidator, queue } = consumer(push, 5, 2);
    await handler.handle(job);
    expect(fanout.feedsAfter).toHaveBeenCalledWith(1, 0);
    expect(invalidator.invalidate).toHaveBeenLastCalledWith([target('feed:2'), target('feed:3')], expect.anything());
    const next: FanoutChunkJobData = {
      outboxId: '41',
      writtenAt: job.writtenAt,
      lsn: '0/3016060',
      authorId: 1,
      postId: '900',
      after: 3,
    };
    expect(queue.add).toHaveBeenCalledTimes(1);
    expect(queue.add).toHaveBeenCalledWith(
      'fanout-chunk',
      next,
      expect.objectContaining({ jobId: 'outbox.41.after.3' }),
    );
  });

  it('a chunk (first run or retry) reads only the page after its cursor, and queues the page after that', async () => {
    const { handler, fanout, invalidator, queue } = consumer(push, 5, 2);
    const chunk: FanoutChunkJobData = { outboxId: '41', writtenAt: 1, authorId: 1, postId: '900', after: 3 };
    for (let run = 0; run < 2; run++) await handler.dispatch({ name: 'fanout-chunk', data: chunk });
    expect(fanout.feedsAfter.mock.calls).toEqual([
      [1, 3],
      [1, 3],
    ]);
    expect(invalidator.invalidate.mock.calls.map(([targets]) => targets)).toEqual([
      [target('feed:4'), target('feed:5')],
      [target('feed:4'), target('feed:5')],
    ]);
    // The same next page both times: one job id, so Bull keeps one job.
    expect(queue.add.mock.calls.map(([, data, opts]) => [data.after, opts.jobId])).toEqual([
      [5, 'outbox.41.after.5'],
      [5, 'outbox.41.after.5'],
    ]);
  });

  it('the last page queues nothing', async () => {
    const { handler, queue, invalidator } = consumer(push, 5, 2);
    await handler.handleChunk({ outboxId: '41', writtenAt: 1, authorId: 1, postId: '900', after: 5 });
    expect(invalidator.invalidate).toHaveBeenCalledWith([target('feed:6')], expect.anything());
    expect(queue.add).not.toHaveBeenCalled();
  });

  it('a post by an author with too many followers invalidates their profile only: O(1), no page read', async () => {
    const { handler, fanout, invalidator, queue } = consumer(
      { targets: [profile], followers: { authorId: 1, mode: 'pull' } },
      100,
    );
    await expect(handler.handle(job)).resolves.toEqual(summary);
    expect(invalidator.invalidate).toHaveBeenCalledTimes(1);
    expect(invalidator.invalidate).toHaveBeenCalledWith([profile], expect.anything());
    expect(fanout.feedsAfter).not.toHaveBeenCalled();
    expect(queue.add).not.toHaveBeenCalled();
  });

  it('still invalidates a job queued before relays recorded positions (no fence)', async () => {
    const { handler, invalidator } = consumer({ targets: [profile] });
    const { lsn: _, ...old } = job;
    await handler.handle(old);
    expect(invalidator.invalidate).toHaveBeenCalledWith([profile], { requestId: 'outbox.41', lsn: undefined });
  });

  it('refuses a job whose position is not a WAL position, or a chunk without a cursor, invalidating nothing', async () => {
    const { handler, invalidator } = consumer(push, 5);
    await expect(handler.handle({ ...job, lsn: '3016060' })).rejects.toThrow(/WAL position/);
    const bad = { outboxId: '41', writtenAt: 1, authorId: 1, postId: '900' } as FanoutChunkJobData;
    await expect(handler.handleChunk(bad)).rejects.toThrow(/after/);
    await expect(handler.handleChunk({ ...bad, after: -1 })).rejects.toThrow(/after/);
    expect(invalidator.invalidate).not.toHaveBeenCalled();
  });

  it('refuses a job it does not know', async () => {
    const { handler } = consumer(push);
    await expect(handler.dispatch({ name: 'other', data: {} })).rejects.toThrow('unknown job "other"');
  });
});
