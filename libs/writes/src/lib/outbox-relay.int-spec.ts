import Bull from 'bull';
import { LazyDataSource } from '@worker-pattern/db';
import { createTestDatabase, type TestDatabase } from '@worker-pattern/db/testing';
import { TEST_REDIS_URL, uniqueTestPrefix } from '@worker-pattern/fragment/testing';
import { OutboxRelay } from './outbox-relay';
import { SocialWrites, WriteNotFoundError } from './social-writes';
import { INVALIDATIONS_QUEUE, type InvalidationJobData } from './write-events';

describe('writes and the outbox relay (real Postgres and Redis)', () => {
  let db: TestDatabase;
  let lazy: LazyDataSource;
  let writes: SocialWrites;
  let queue: Bull.Queue<InvalidationJobData>;
  const prefix = uniqueTestPrefix('outbox');

  beforeAll(async () => {
    db = await createTestDatabase({ seed: { scale: 0.05 } });
    lazy = new LazyDataSource({ url: db.url });
    lazy.onModuleInit();
    for (let i = 0; i < 50 && !isUp(lazy); i++) await new Promise((r) => setTimeout(r, 100));
    writes = new SocialWrites(lazy);
    queue = new Bull(INVALIDATIONS_QUEUE, TEST_REDIS_URL, { prefix: `${prefix}bull` });
  }, 60_000);

  afterAll(async () => {
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await lazy?.onApplicationShutdown();
    await db?.drop();
  });

  const pending = async () =>
    Number((await db.dataSource.query(`SELECT count(*) AS n FROM outbox WHERE dispatched_at IS NULL`))[0].n);
  const relay = () => new OutboxRelay(db.dataSource, queue);

  it('records the write and its event together; a relay that was down relays it later', async () => {
    const post = await writes.createPost(1, 'hello');
    const [row] = await db.dataSource.query(
      `SELECT id, topic, payload, dispatched_at FROM outbox ORDER BY id DESC LIMIT 1`,
    );
    expect(row).toMatchObject({
      topic: 'post.created',
      payload: { type: 'post.created', authorId: 1, postId: post.id },
      dispatched_at: null,
    });
    // The process that would have relayed it crashed right after the commit: nothing is queued yet.
    expect(await queue.getJob(`outbox.${row.id}`)).toBeNull();
    expect(await relay().drain()).toBeGreaterThanOrEqual(1);
    const job = await queue.getJob(`outbox.${row.id}`);
    expect(job?.data).toMatchObject({ outboxId: String(row.id), event: { type: 'post.created', authorId: 1 } });
    expect(await pending()).toBe(0);
  });

  it('does not queue twice when a relay crashed between queueing and stamping', async () => {
    await relay().drain();
    await writes.createPost(2, 'relayed once');
    const [row] = await db.dataSource.query(
      `SELECT id, payload FROM outbox WHERE dispatched_at IS NULL ORDER BY id DESC LIMIT 1`,
    );
    // The crashed relay had already added the job, but its transaction never stamped the row.
    await queue.add(
      'invalidate',
      { outboxId: String(row.id), event: row.payload, writtenAt: Date.now() },
      { jobId: `outbox.${row.id}` },
    );
    const before = await queue.count();
    await relay().drain();
    expect(await queue.count()).toBe(before);
    expect(await pending()).toBe(0);
  });

  it('shares the work between concurrent relays, each row relayed once', async () => {
    const start = Number((await db.dataSource.query(`SELECT coalesce(max(id), 0) AS id FROM outbox`))[0].id);
    for (let i = 0; i < 60; i++) await writes.createPost(4, `post ${i}`);
    const counts = await Promise.all([relay().drain(), relay().drain(), relay().drain()]);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60);
    const ids = await db.dataSource.query(`SELECT id FROM outbox WHERE id > $1`, [start]);
    const jobs = await Promise.all(ids.map((r: { id: string }) => queue.getJob(`outbox.${r.id}`)));
    expect(jobs.every((j) => j !== null)).toBe(true);
    expect(await pending()).toBe(0);
  });

  it('records nothing for a write that fails or changes nothing', async () => {
    const before = Number((await db.dataSource.query(`SELECT count(*) AS n FROM outbox`))[0].n);
    await expect(writes.follow(5, 999_999)).rejects.toThrow(WriteNotFoundError);
    await expect(writes.like(5, 999_999)).rejects.toThrow(/item 999999 not found/);
    await expect(writes.unlike(5, 999_999)).rejects.toThrow(/item 999999 not found/);
    await expect(writes.createPost(999_999, 'ghost')).rejects.toThrow(/your user does not exist/);
    await writes.unfollow(5, 6).catch(() => undefined);
    expect(await writes.unfollow(5, 6)).toBe(false);
    const after = Number((await db.dataSource.query(`SELECT count(*) AS n FROM outbox`))[0].n);
    // The first unfollow may have removed a seeded follow (one event); the repeat recorded nothing.
    expect(after - before).toBeLessThanOrEqual(1);
    expect(await db.dataSource.query(`SELECT 1 FROM posts WHERE body = 'ghost'`)).toEqual([]);
  });
});

function isUp(lazy: LazyDataSource): boolean {
  try {
    lazy.get();
    return true;
  } catch {
    return false;
  }
}
