import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../../testing';
import { isDatabaseEmpty } from '../schema-admin';
import { DatabaseNotEmptyError, seed, SeedStep } from './seed';
import { SeedOptionsError } from './seed-options';

const SIZES = { users: 1_000, posts: 20_000, follows: 10_000, likes: 20_000, items: 200 };

async function scalar(ds: DataSource, sql: string, params: unknown[] = []): Promise<number> {
  const [row]: Array<{ value: string | number }> = await ds.query(sql, params);
  return Number(row.value);
}

describe('seed (real Postgres)', () => {
  let db: TestDatabase;
  const progress: Array<[SeedStep, number, number]> = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    await seed(db.dataSource, { scale: 0.1 }, (step, done, total) => progress.push([step, done, total]));
  }, 120_000);

  afterAll(() => db?.drop());

  it('writes exactly the requested number of rows', async () => {
    for (const [table, expected] of Object.entries(SIZES)) {
      expect([table, await scalar(db.dataSource, `SELECT count(*) AS value FROM ${table}`)]).toEqual([table, expected]);
    }
  });

  it('gives users, items and posts the ids 1..N', async () => {
    for (const table of ['users', 'items', 'posts'] as const) {
      const [row]: Array<{ min: string; max: string; count: string }> = await db.dataSource.query(
        `SELECT min(id) AS min, max(id) AS max, count(DISTINCT id) AS count FROM ${table}`,
      );
      expect([table, Number(row.min), Number(row.max), Number(row.count)]).toEqual([
        table,
        1,
        SIZES[table],
        SIZES[table],
      ]);
    }
  });

  it('writes no self-follows', async () => {
    expect(await scalar(db.dataSource, 'SELECT count(*) AS value FROM follows WHERE follower_id = followee_id')).toBe(
      0,
    );
  });

  it('lets every user post, follow at least 5 posting users and like at least 5 items', async () => {
    const perUser: Array<{ posts: string; followed_posters: string; likes: string }> = await db.dataSource.query(`
      SELECT (SELECT count(*) FROM posts p WHERE p.author_id = u.id) AS posts,
             (SELECT count(*) FROM follows f
               WHERE f.follower_id = u.id AND EXISTS (SELECT 1 FROM posts p WHERE p.author_id = f.followee_id)) AS followed_posters,
             (SELECT count(*) FROM likes l WHERE l.user_id = u.id) AS likes
        FROM users u`);
    const bad = perUser.filter(
      (row) => Number(row.posts) < 1 || Number(row.followed_posters) < 5 || Number(row.likes) < 5,
    );
    expect(perUser).toHaveLength(SIZES.users);
    expect(bad).toEqual([]);
  });

  it('gives every user a non-empty feed', async () => {
    const withoutFeed = await scalar(
      db.dataSource,
      `SELECT count(*) AS value FROM users u
        WHERE NOT EXISTS (SELECT 1 FROM follows f JOIN posts p ON p.author_id = f.followee_id WHERE f.follower_id = u.id)`,
    );
    expect(withoutFeed).toBe(0);
  });

  it('gives every user an item liked by a similar user that they do not like yet', async () => {
    const withoutRecommendation = await scalar(
      db.dataSource,
      `SELECT count(*) AS value FROM users u
        WHERE NOT EXISTS (
          SELECT 1
            FROM likes mine
            JOIN likes shared ON shared.item_id = mine.item_id AND shared.user_id <> u.id
            JOIN likes theirs ON theirs.user_id = shared.user_id
           WHERE mine.user_id = u.id
             AND NOT EXISTS (SELECT 1 FROM likes own WHERE own.user_id = u.id AND own.item_id = theirs.item_id))`,
    );
    expect(withoutRecommendation).toBe(0);
  });

  it('skews popularity: the most liked item has many times the median likes', async () => {
    const [row]: Array<{ top: string; median: string }> = await db.dataSource.query(`
      SELECT max(n) AS top, percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS median
        FROM (SELECT count(*) AS n FROM likes GROUP BY item_id) AS per_item`);
    expect(Number(row.top)).toBeGreaterThan(5 * Number(row.median));
  });

  it('writes readable handles, names, bios, titles and bodies', async () => {
    const [user]: Array<{ handle: string; display_name: string }> = await db.dataSource.query(
      'SELECT handle, display_name FROM users WHERE id = 1',
    );
    expect(user.handle).toMatch(/^[a-z]+_?[a-z]+_?1$/);
    expect(user.display_name).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/);
    expect(await scalar(db.dataSource, `SELECT count(*) AS value FROM users WHERE bio <> ''`)).toBeGreaterThan(
      SIZES.users / 2,
    );
    expect(await scalar(db.dataSource, 'SELECT count(DISTINCT category) AS value FROM items')).toBeGreaterThan(5);
    expect(await scalar(db.dataSource, 'SELECT count(DISTINCT body) AS value FROM posts')).toBeGreaterThan(1_000);
  });

  it('keeps timestamps in the past, posts after their author joined', async () => {
    expect(
      await scalar(
        db.dataSource,
        'SELECT count(*) AS value FROM posts p JOIN users u ON u.id = p.author_id WHERE p.created_at < u.created_at OR p.created_at > now()',
      ),
    ).toBe(0);
  });

  it('reports progress per step, ending at the requested totals', () => {
    const last = new Map(progress.map(([step, done, total]) => [step, [done, total]]));
    expect([...last.keys()]).toEqual(['users', 'items', 'posts', 'follows', 'likes', 'analyze']);
    for (const [step, total] of Object.entries(SIZES)) {
      expect(last.get(step as SeedStep)).toEqual([total, total]);
    }
    const posts = progress.filter(([step]) => step === 'posts').map(([, done]) => done);
    expect(posts.length).toBeGreaterThan(3);
    expect(posts[0]).toBe(0);
    expect(posts).toEqual([...posts].sort((a, b) => a - b));
  });

  it('advances the identity sequences past the seeded ids', async () => {
    const runner = db.dataSource.createQueryRunner();
    await runner.startTransaction();
    try {
      const [user] = await runner.query(
        `INSERT INTO users (handle, display_name) VALUES ('new_user', 'New User') RETURNING id`,
      );
      const [post] = await runner.query(`INSERT INTO posts (author_id, body) VALUES ($1, 'hello') RETURNING id`, [
        user.id,
      ]);
      const [item] = await runner.query(`INSERT INTO items (title, category) VALUES ('New', 'Books') RETURNING id`);
      expect([user.id, Number(post.id), item.id]).toEqual([SIZES.users + 1, SIZES.posts + 1, SIZES.items + 1]);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('refuses to seed a database that is not empty, and changes nothing', async () => {
    await expect(seed(db.dataSource, { users: 10, posts: 10, follows: 50, likes: 50, items: 10 })).rejects.toThrow(
      DatabaseNotEmptyError,
    );
    expect(await scalar(db.dataSource, 'SELECT count(*) AS value FROM users')).toBe(SIZES.users);
  });
});

describe('seed edge cases (real Postgres)', () => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase();
  }, 30_000);

  afterEach(() => db?.drop());

  it('meets the guarantees at the tightest sizes: everyone follows everyone, likes all but two items', async () => {
    await seed(db.dataSource, { users: 6, posts: 6, follows: 30, likes: 30, items: 7 });
    expect(await scalar(db.dataSource, 'SELECT count(*) AS value FROM follows')).toBe(30);
    const perUser: Array<{ likes: string; recommendable: string }> = await db.dataSource.query(`
      SELECT (SELECT count(*) FROM likes l WHERE l.user_id = u.id) AS likes,
             (SELECT count(DISTINCT theirs.item_id)
                FROM likes mine
                JOIN likes shared ON shared.item_id = mine.item_id AND shared.user_id <> u.id
                JOIN likes theirs ON theirs.user_id = shared.user_id
               WHERE mine.user_id = u.id
                 AND NOT EXISTS (SELECT 1 FROM likes own WHERE own.user_id = u.id AND own.item_id = theirs.item_id)) AS recommendable
        FROM users u ORDER BY u.id`);
    expect(perUser.map((row) => Number(row.likes))).toEqual([5, 5, 5, 5, 5, 5]);
    expect(perUser.every((row) => Number(row.recommendable) > 0)).toBe(true);
  });

  it('rolls back completely when the plan cannot fit (a user would like more than items − 2)', async () => {
    await expect(seed(db.dataSource, { users: 6, posts: 6, follows: 30, likes: 31, items: 7 })).rejects.toThrow(
      SeedOptionsError,
    );
    expect(await isDatabaseEmpty(db.dataSource)).toBe(true);
    expect(await scalar(db.dataSource, 'SELECT count(*) AS value FROM items')).toBe(0);
    // The seed had already dropped keys and indexes for the bulk load: the rollback restored them.
    expect((await db.dataSource.driver.createSchemaBuilder().log()).upQueries).toEqual([]);
  });

  it('leaves keys, indexes and constraints exactly as the migrations made them', async () => {
    const schema = async (): Promise<unknown[]> =>
      db.dataSource.query(`
        SELECT conrelid::regclass::text AS owner, conname AS name, pg_get_constraintdef(oid) AS definition
          FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL
        SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
        ORDER BY 1, 2, 3`);
    const before = await schema();
    expect(before.length).toBeGreaterThan(15);
    await seed(db.dataSource, { users: 20, posts: 40, follows: 100, likes: 100, items: 20 });
    expect(await schema()).toEqual(before);
    expect((await db.dataSource.driver.createSchemaBuilder().log()).upQueries).toEqual([]);
  });

  it('lets exactly one of two concurrent seeds win; the other refuses', async () => {
    const options = { users: 20, posts: 40, follows: 100, likes: 100, items: 20 };
    const results = await Promise.allSettled([seed(db.dataSource, options), seed(db.dataSource, options)]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(rejected?.reason).toBeInstanceOf(DatabaseNotEmptyError);
    expect(await scalar(db.dataSource, 'SELECT count(*) AS value FROM users')).toBe(20);
  });

  it('adds big accounts on request: fans after the regular users, following only the celebrities', async () => {
    const result = await seed(db.dataSource, {
      users: 20,
      posts: 40,
      follows: 100,
      likes: 100,
      items: 20,
      celebrities: 2,
      celebrityFollowers: 30_000,
    });
    expect(result).toMatchObject({ users: 20, follows: 100, celebrities: 2, celebrityFollowers: 30_000 });
    const [fans] = await db.dataSource.query(`
      SELECT count(*)::int AS n, min(id) AS lo, max(id) AS hi,
             count(*) FILTER (WHERE handle = 'fan_' || id)::int AS handles
        FROM users WHERE id > 20`);
    expect(fans).toEqual({ n: 30_000, lo: 21, hi: 30_020, handles: 30_000 });
    const followers: Array<{ id: number; n: number }> = await db.dataSource.query(`
      SELECT followee_id AS id, count(*)::int AS n FROM follows WHERE follower_id > 20 GROUP BY 1 ORDER BY 1`);
    expect(followers).toEqual([
      { id: 1, n: 30_000 },
      { id: 2, n: 30_000 },
    ]);
    expect(await scalar(db.dataSource, 'SELECT count(*) AS value FROM follows WHERE follower_id <= 20')).toBe(100);
    // The next user written through the API gets the next id, after the fans.
    const [next] = await db.dataSource.query(
      `INSERT INTO users (handle, display_name) VALUES ('after_fans', 'After') RETURNING id`,
    );
    expect(next.id).toBe(30_021);
  });

  it('refuses to seed while migrations are pending', async () => {
    await db.dataSource.undoLastMigration();
    await expect(seed(db.dataSource, { users: 20, posts: 40, follows: 100, likes: 100, items: 20 })).rejects.toThrow(
      /migrations are pending/,
    );
  });

  it('is deterministic: the same options give the same data, another random seed different data', async () => {
    const now = new Date('2025-06-01T12:00:00Z');
    const options = { users: 50, posts: 200, follows: 400, likes: 400, items: 40, now };
    const fingerprint = async (ds: DataSource): Promise<string[]> => {
      const result: string[] = [];
      for (const from of [
        'users ORDER BY id',
        'items ORDER BY id',
        'posts ORDER BY id',
        'follows ORDER BY 1, 2',
        'likes ORDER BY 1, 2',
      ]) {
        const [row]: Array<{ hash: string }> = await ds.query(
          `SELECT md5(string_agg(t::text, '|')) AS hash FROM (SELECT * FROM ${from}) t`,
        );
        result.push(row.hash);
      }
      expect(result).toEqual(result.map(() => expect.stringMatching(/^[0-9a-f]{32}$/)));
      return result;
    };
    await seed(db.dataSource, options);
    const other = await createTestDatabase();
    const third = await createTestDatabase();
    try {
      await seed(other.dataSource, options);
      await seed(third.dataSource, { ...options, randomSeed: 2 });
      const first = await fingerprint(db.dataSource);
      expect(await fingerprint(other.dataSource)).toEqual(first);
      const different = await fingerprint(third.dataSource);
      expect(different.filter((hash, i) => hash !== first[i]).length).toBeGreaterThanOrEqual(4);
    } finally {
      await other.drop();
      await third.drop();
    }
  }, 30_000);
});
