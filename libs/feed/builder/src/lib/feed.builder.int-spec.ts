import { Test } from '@nestjs/testing';
import { DbModule, DbReader } from '@worker-pattern/db';
import { createTestDatabase, TestDatabase } from '@worker-pattern/db/testing';
import { FragmentBuildContext, FragmentNotFoundError } from '@worker-pattern/fragment';
import { DEFAULT_FEED_FANOUT, FEED_FANOUT_OPTIONS } from '@worker-pattern/feed';
import { FeedBuilder } from './feed.builder';
import { FEED_SIZE, feedData } from '@worker-pattern/feed';

function asViewer(viewerId: number): FragmentBuildContext {
  return { viewerId, signal: new AbortController().signal, attempt: 1 };
}

describe('FeedBuilder (real Postgres)', () => {
  let db: TestDatabase;
  let builder: FeedBuilder;

  beforeAll(async () => {
    db = await createTestDatabase();
    builder = new FeedBuilder(DbReader.forPrimary(db.dataSource), DEFAULT_FEED_FANOUT);
    // viewer 1 follows 2 and 3, not 4. 2 and 3 post 15 times each, an hour apart, interleaved; 4 and
    // the viewer post newer things that must never show. Posts 100 and 101 share a timestamp.
    await db.dataSource.query(`
      INSERT INTO users (id, handle, display_name) VALUES
        (1, 'viewer', 'Viewer'), (2, 'ada', 'Ada'), (3, 'bob', 'Bob'), (4, 'stranger', 'Stranger'), (5, 'loner', 'Loner');
      INSERT INTO follows (follower_id, followee_id) VALUES (1, 2), (1, 3), (4, 1), (2, 4);
      INSERT INTO posts (id, author_id, body, created_at)
        SELECT n, 2 + (n % 2), 'post ' || n, timestamptz '2025-01-01T00:00:00Z' + n * interval '1 hour'
          FROM generate_series(1, 30) AS n;
      INSERT INTO posts (id, author_id, body, created_at) VALUES
        (100, 2, 'tie, lower id', '2025-03-01T00:00:00Z'),
        (101, 3, 'tie, higher id', '2025-03-01T00:00:00Z'),
        (200, 4, 'not followed', '2025-06-01T00:00:00Z'),
        (201, 1, 'my own', '2025-06-01T00:00:00Z');
    `);
  }, 30_000);

  afterAll(() => db?.drop());

  it('returns the 20 newest posts of followed users, newest first, ties broken by id', async () => {
    const { posts } = await builder.build({}, asViewer(1));
    expect(posts).toHaveLength(FEED_SIZE);
    expect(posts.map((post) => post.id)).toEqual([
      '101',
      '100',
      ...Array.from({ length: 18 }, (_, i) => String(30 - i)),
    ]);
    expect(posts[0]).toEqual({
      id: '101',
      body: 'tie, higher id',
      createdAt: '2025-03-01T00:00:00.000Z',
      author: { id: 3, handle: 'bob', displayName: 'Bob' },
    });
    expect(posts[2]).toMatchObject({ id: '30', author: { id: 2, handle: 'ada', displayName: 'Ada' } });
  });

  it('only contains followed authors, never the viewer or strangers', async () => {
    const { posts } = await builder.build({}, asViewer(1));
    expect(new Set(posts.map((post) => post.author.id))).toEqual(new Set([2, 3]));
  });

  it('is per viewer', async () => {
    const { posts } = await builder.build({}, asViewer(4));
    expect(posts.map((post) => post.body)).toEqual(['my own']);
  });

  it('is empty, not an error, for a user who follows nobody', async () => {
    await expect(builder.build({}, asViewer(5))).resolves.toEqual({ posts: [] });
  });

  it('throws FragmentNotFoundError for an unknown viewer', async () => {
    await expect(builder.build({}, asViewer(999))).rejects.toThrow(FragmentNotFoundError);
    await expect(builder.build({}, asViewer(999))).rejects.toThrow('user 999 not found');
  });

  it('survives a JSON round trip unchanged (what the cache stores), in the shape its contract states', async () => {
    const data = await builder.build({}, asViewer(1));
    expect(JSON.parse(JSON.stringify(data))).toEqual(data);
    // The schema the OpenAPI document is generated from: no field missing, none unlisted (parse drops those).
    expect(feedData.parse(data)).toEqual(data);
  });

  it('keeps a feed that follows an author too big to push to fresh only briefly (hybrid fan-out)', async () => {
    const limits = async (celebrityFollowers: number, viewerId: number): Promise<number[]> => {
      const limited: number[] = [];
      const options = { ...DEFAULT_FEED_FANOUT, celebrityFollowers, celebrityFeedTtlMs: 700 };
      const ctx = { ...asViewer(viewerId), limitTtl: (ms: number) => limited.push(ms) };
      await new FeedBuilder(DbReader.forPrimary(db.dataSource), options).build({}, ctx);
      return limited;
    };
    // 2 and 3, whom viewer 1 follows, have one follower each: pulled from half a threshold of 1 (0).
    expect(await limits(1, 1)).toEqual([700]);
    expect(await limits(2, 1)).toEqual([]);
    expect(await limits(1, 5)).toEqual([]);
  });

  it('is injectable: Nest resolves its DbReader through DbModule', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DbModule.forRootAsync({ useFactory: () => ({ url: db.url, poolSize: 1 }) })],
      providers: [FeedBuilder, { provide: FEED_FANOUT_OPTIONS, useValue: DEFAULT_FEED_FANOUT }],
    }).compile();
    try {
      expect((await moduleRef.get(FeedBuilder).build({}, asViewer(4))).posts).toHaveLength(1);
    } finally {
      await moduleRef.close();
    }
  });
});

describe('FeedBuilder on seeded data (real Postgres)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ seed: { scale: 0.05 } });
  }, 60_000);

  afterAll(() => db?.drop());

  it('matches a naive query for every seeded user, and no feed is empty', async () => {
    const builder = new FeedBuilder(DbReader.forPrimary(db.dataSource), DEFAULT_FEED_FANOUT);
    const users: Array<{ id: number }> = await db.dataSource.query('SELECT id FROM users ORDER BY id');
    expect(users).toHaveLength(500);
    for (const { id } of users) {
      const expected: Array<{ id: string }> = await db.dataSource.query(
        `SELECT id FROM posts
          WHERE author_id IN (SELECT followee_id FROM follows WHERE follower_id = $1)
          ORDER BY created_at DESC, id DESC
          LIMIT 20`,
        [id],
      );
      const { posts } = await builder.build({}, asViewer(id));
      expect([id, posts.map((post) => post.id)]).toEqual([id, expected.map((row) => row.id)]);
      expect(posts.length).toBeGreaterThan(0);
    }
  }, 60_000);
});
