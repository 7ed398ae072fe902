import { LazyDataSource } from '@worker-pattern/db';
import { createTestDatabase, startLazyDataSource, type TestDatabase } from '@worker-pattern/db/testing';
import { SocialWrites, WriteNotFoundError } from './social-writes';

// The outbox rows a write records; relaying them is the invalidation side's
// (libs/writes/invalidation/src/lib/outbox-relay.int-spec.ts).
describe('social writes and their outbox rows (real Postgres)', () => {
  let db: TestDatabase;
  let lazy: LazyDataSource;
  let writes: SocialWrites;

  beforeAll(async () => {
    db = await createTestDatabase({ seed: { scale: 0.05 } });
    lazy = await startLazyDataSource(db.url);
    writes = new SocialWrites(lazy);
  }, 60_000);

  afterAll(async () => {
    await lazy?.onApplicationShutdown();
    await db?.drop();
  });

  it('answers concurrent follows and unfollows of one pair without a failure, one event per change', async () => {
    const before = Number((await db.dataSource.query(`SELECT count(*) AS n FROM outbox`))[0].n);
    let changes = 0;
    // A follow whose insert meets the row while an unfollow deletes it must try again, not fail.
    for (let round = 0; round < 100; round++) {
      const [followed, unfollowed] = await Promise.all([writes.follow(3, 4), writes.unfollow(3, 4)]);
      changes += (followed.created ? 1 : 0) + (unfollowed ? 1 : 0);
    }
    const after = Number((await db.dataSource.query(`SELECT count(*) AS n FROM outbox`))[0].n);
    expect(after - before).toBe(changes);
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
