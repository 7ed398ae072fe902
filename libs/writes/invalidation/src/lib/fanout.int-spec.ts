import { getQueueToken } from '@nestjs/bull';
import { Test, type TestingModule } from '@nestjs/testing';
import { DbModule, DbReader, LazyDataSource } from '@worker-pattern/db';
import { createTestDatabase, startLazyDataSource, type TestDatabase } from '@worker-pattern/db/testing';
import { FeedFanoutModule, type FeedFanoutOptions, feedFragment } from '@worker-pattern/feed';
import { FeedBuilder } from '@worker-pattern/feed/builder';
import { FRAGMENT_REDIS, FragmentModule, FragmentStore, FragmentTargets } from '@worker-pattern/fragment';
import {
  deleteKeysWithPrefix,
  singleRedisTopology,
  TEST_REDIS_URL,
  uniqueTestPrefix,
} from '@worker-pattern/fragment/testing';
import { profileFragment } from '@worker-pattern/profile';
import { SocialWrites } from '@worker-pattern/writes';
import type { Job, Queue } from 'bull';
import { Redis } from 'ioredis';
import { InvalidationWorkerModule } from './invalidation-worker.module';
import { InvalidationConsumer } from './invalidation.consumer';
import { type FanoutChunkJobData, fanoutChunkJobId, INVALIDATIONS_QUEUE } from './invalidation-jobs';

/**
 * The invalidation worker as it runs (outbox relay, Bull, the consumer, the engine's invalidator) on
 * real Postgres and Redis. User 1 is a celebrity followed by users 3..100,002; user 2 an ordinary
 * author followed by users 3..2,502, pushed to in pages of 1,000.
 */
const CELEBRITY = 1;
const AUTHOR = 2;
const FIRST_FAN = 3;
const CELEBRITY_FOLLOWERS = 100_000;
const AUTHOR_FOLLOWERS = 2_500;
const FANOUT: FeedFanoutOptions = { pageSize: 1_000, celebrityFollowers: 10_000, celebrityFeedTtlMs: 1_000 };

const followersOfAuthor = Array.from({ length: AUTHOR_FOLLOWERS }, (_, i) => FIRST_FAN + i);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Copies an invalidation found (stale now, or stale and leased for a rebuild); none absent. */
const touched = (summary: { absent: number; stale: number; rebuilding: number }) => ({
  absent: summary.absent,
  found: summary.stale + summary.rebuilding,
});

/** Waits for a condition; the limit only turns a hang into a failure that says what never happened. */
async function until(what: string, check: () => Promise<boolean>, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await sleep(50);
  }
}

describe('bounded, hybrid fan-out (real Postgres, Redis and Bull)', () => {
  const prefix = uniqueTestPrefix('fanout');
  let db: TestDatabase;
  let lazy: LazyDataSource;
  let writes: SocialWrites;
  let moduleRef: TestingModule;
  let queue: Queue;
  let redis: Redis;
  let targets: FragmentTargets;
  let store: FragmentStore;

  const feedKey = (viewerId: number) => targets.of(feedFragment, {}, { viewerId }).key;
  const profileKey = (userId: number) => targets.of(profileFragment, { userId }, { viewerId: userId }).key;

  /** Each copy's invalidation mark (`i`, '' when none): what a write did to it. */
  async function marks(keys: readonly string[]): Promise<string[]> {
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.hget(key, 'i');
    return ((await pipeline.exec()) ?? []).map(([, value]) => (value as string | null) ?? '');
  }

  /** Makes the copies exist (as any request would: leased, pending), so invalidations touch them. */
  async function cache(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 500) {
      await store.read(
        keys.slice(i, i + 500).map((key) => ({ key, leaseMs: feedFragment.leaseMs })),
        true,
      );
    }
  }

  async function idle(): Promise<boolean> {
    const counts = await queue.getJobCounts();
    return counts.waiting + counts.active + counts.delayed === 0;
  }

  async function outboxIdOf(postId: string): Promise<string> {
    let id = '';
    await until('the outbox row of the post', async () => {
      const rows = await db.dataSource.query(`SELECT id FROM outbox WHERE payload->>'postId' = $1`, [postId]);
      id = rows[0]?.id ?? '';
      return id !== '';
    });
    return String(id);
  }

  async function completedRoot(outboxId: string): Promise<Job> {
    let job: Job | null = null;
    await until('the write job completed', async () => {
      job = await queue.getJob(`outbox.${outboxId}`);
      return (await job?.isCompleted()) === true;
    });
    return job as unknown as Job;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.dataSource.query(`
      INSERT INTO users (id, handle, display_name)
        SELECT g, 'u' || g, 'User ' || g FROM generate_series(1, ${FIRST_FAN + CELEBRITY_FOLLOWERS - 1}) AS g;
      INSERT INTO follows (follower_id, followee_id)
        SELECT g, ${CELEBRITY} FROM generate_series(${FIRST_FAN}, ${FIRST_FAN + CELEBRITY_FOLLOWERS - 1}) AS g;
      INSERT INTO follows (follower_id, followee_id)
        SELECT g, ${AUTHOR} FROM generate_series(${FIRST_FAN}, ${FIRST_FAN + AUTHOR_FOLLOWERS - 1}) AS g;
      SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
      ANALYZE users, follows;
    `);
    lazy = await startLazyDataSource(db.url);
    writes = new SocialWrites(lazy);

    moduleRef = await Test.createTestingModule({
      imports: [
        FragmentModule.forRootAsync({
          useFactory: () => ({
            redis: singleRedisTopology(),
            keyPrefix: prefix,
            bullPrefix: `${prefix}bull`,
            connectionName: 'fanout-test',
            worker: { concurrency: 4, lockDurationMs: 30_000, stalledIntervalMs: 15_000, drainTimeoutMs: 1_000 },
          }),
        }),
        DbModule.forRootAsync({ useFactory: () => ({ url: db.url, poolSize: 8 }) }),
        FeedFanoutModule.forRootAsync({ useFactory: () => FANOUT }),
        InvalidationWorkerModule,
      ],
    }).compile();
    await moduleRef.init();
    queue = moduleRef.get(getQueueToken(INVALIDATIONS_QUEUE), { strict: false });
    redis = moduleRef.get(FRAGMENT_REDIS, { strict: false });
    targets = moduleRef.get(FragmentTargets, { strict: false });
    store = moduleRef.get(FragmentStore, { strict: false });
  }, 120_000);

  afterAll(async () => {
    await moduleRef?.close();
    await lazy?.onApplicationShutdown();
    const cleaner = new Redis(TEST_REDIS_URL);
    await deleteKeysWithPrefix(cleaner, prefix);
    cleaner.disconnect();
    await db?.drop();
  }, 30_000);

  let authorPostOutboxId = '';

  it("pushes an ordinary author's post to every follower's feed, a page of 1,000 per job", async () => {
    const stranger = FIRST_FAN + AUTHOR_FOLLOWERS + 10; // follows the celebrity only
    await cache([...followersOfAuthor.map(feedKey), feedKey(stranger), profileKey(AUTHOR)]);
    expect((await marks(followersOfAuthor.map(feedKey))).filter((mark) => mark !== '')).toHaveLength(0);

    const post = await writes.createPost(AUTHOR, 'pushed in pages');
    authorPostOutboxId = await outboxIdOf(post.id);
    await until('every follower copy invalidated', async () =>
      (await marks(followersOfAuthor.map(feedKey))).every((mark) => mark !== ''),
    );
    await until('the queue idle', idle);

    // Three pages: the write's own job took followers 3..1002, then one job per further page.
    const root = await completedRoot(authorPostOutboxId);
    expect(touched(root.returnvalue)).toEqual({ absent: 0, found: 1 + 1_000 });
    const chunks = await Promise.all(
      [1_002, 2_002, 2_502].map((after) => queue.getJob(fanoutChunkJobId({ outboxId: authorPostOutboxId, after }))),
    );
    expect(chunks.map((job) => job?.data.after ?? null)).toEqual([1_002, 2_002, null]);
    expect(chunks.slice(0, 2).map((job) => touched(job?.returnvalue))).toEqual([
      { absent: 0, found: 1_000 },
      { absent: 0, found: 500 },
    ]);
    expect(await marks([feedKey(stranger)])).toEqual(['']);
  }, 90_000);

  it('a retried chunk resumes from its cursor: only its own page is invalidated again', async () => {
    const job = await queue.getJob(fanoutChunkJobId({ outboxId: authorPostOutboxId, after: 1_002 }));
    expect(job).not.toBeNull();
    const keys = followersOfAuthor.map(feedKey);
    const before = await marks(keys);
    // What Bull does on a retry: the job's own data (its cursor) handed to the consumer again.
    const consumer = moduleRef.get(InvalidationConsumer, { strict: false });
    expect(touched(await consumer.handleChunk(job!.data as FanoutChunkJobData))).toEqual({ absent: 0, found: 1_000 });
    await until('the queue idle', idle);
    const after = await marks(keys);
    const changed = followersOfAuthor.filter((_, i) => after[i] !== before[i]);
    expect(changed).toEqual(followersOfAuthor.slice(1_000, 2_000)); // followers 1003..2002, nothing else
  }, 60_000);

  it("a celebrity's post costs one invalidation (their profile), and a follower's feed pulls it", async () => {
    const sample = Array.from({ length: 2_000 }, (_, i) => FIRST_FAN + i * 50); // across all 100,000
    await cache([...sample.map(feedKey), profileKey(CELEBRITY)]);
    const before = await marks(sample.map(feedKey));
    const [profileBefore] = await marks([profileKey(CELEBRITY)]);

    const post = await writes.createPost(CELEBRITY, 'pulled, not pushed');
    const outboxId = await outboxIdOf(post.id);
    const root = await completedRoot(outboxId);
    await until('the queue idle', idle);

    expect(touched(root.returnvalue)).toEqual({ absent: 0, found: 1 });
    expect((await marks([profileKey(CELEBRITY)]))[0]).not.toBe(profileBefore);
    expect(await marks(sample.map(feedKey))).toEqual(before);
    const pages = await queue.getJobs(['completed', 'waiting', 'active', 'delayed', 'failed']);
    expect(pages.filter((job) => job?.id?.toString().startsWith(`outbox.${outboxId}.`))).toEqual([]);

    // Any follower's next build has the post, and is fresh only briefly, so that build comes soon.
    const builder = new FeedBuilder(DbReader.forPrimary(db.dataSource), FANOUT);
    for (const follower of [FIRST_FAN, FIRST_FAN + CELEBRITY_FOLLOWERS - 1]) {
      const limits: number[] = [];
      const signal = new AbortController().signal;
      const feed = await builder.build(
        {},
        { viewerId: follower, signal, attempt: 1, limitTtl: (ms) => limits.push(ms) },
      );
      expect([follower, feed.posts[0]?.id, limits]).toEqual([follower, post.id, [FANOUT.celebrityFeedTtlMs]]);
    }
  }, 90_000);
});
