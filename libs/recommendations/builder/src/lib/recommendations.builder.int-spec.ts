import { Test } from '@nestjs/testing';
import { DbModule, DbReader } from '@worker-pattern/db';
import { createTestDatabase, TestDatabase } from '@worker-pattern/db/testing';
import { FragmentBuildContext, FragmentNotFoundError } from '@worker-pattern/fragment';
import { MAX_NEIGHBOURS, RecommendationsBuilder } from './recommendations.builder';
import { RECOMMENDATIONS_SIZE, recommendationsData, RecommendedItem } from '@worker-pattern/recommendations';

function asViewer(viewerId: number, signal = new AbortController().signal): FragmentBuildContext {
  return { viewerId, signal, attempt: 1 };
}

const similar = (id: number, score: number, similarUsers: number) => ({
  id,
  score,
  reason: { kind: 'similar-users', similarUsers },
});
const popular = (id: number, likes: number) => ({ id, score: 0, reason: { kind: 'popular', likes } });
const summary = ({ id, score, reason }: RecommendedItem) => ({ id, score, reason });

describe('RecommendationsBuilder (real Postgres)', () => {
  let db: TestDatabase;
  let builder: RecommendationsBuilder;

  beforeAll(async () => {
    db = await createTestDatabase();
    builder = new RecommendationsBuilder(DbReader.forPrimary(db.dataSource));
    // The viewer (1) likes items 1 and 2. User 2 shares both, users 3 and 4 one each, users 5 and 6
    // none. User 7 likes nothing.
    await db.dataSource.query(`
      INSERT INTO users (id, handle, display_name) SELECT n, 'user_' || n, 'User ' || n FROM generate_series(1, 7) AS n;
      INSERT INTO items (id, title, category) SELECT n, 'Item ' || n, 'Books' FROM generate_series(1, 8) AS n;
      INSERT INTO likes (user_id, item_id) VALUES
        (1, 1), (1, 2),
        (2, 1), (2, 2), (2, 3),
        (3, 1), (3, 3), (3, 4),
        (4, 2), (4, 5),
        (5, 6), (5, 7),
        (6, 6);
    `);
  }, 30_000);

  afterAll(() => db?.drop());

  it('ranks what similar users like by their summed overlap, then fills up with popular items', async () => {
    const { items } = await builder.build({}, asViewer(1));
    expect(items.map(summary)).toEqual([
      similar(3, 3, 2), // users 2 (overlap 2) and 3 (overlap 1)
      similar(4, 1, 1),
      similar(5, 1, 1),
      popular(6, 2),
      popular(7, 1),
      popular(8, 0),
    ]);
    expect(items[0]).toEqual({
      id: 3,
      title: 'Item 3',
      category: 'Books',
      score: 3,
      reason: { kind: 'similar-users', similarUsers: 2 },
    });
  });

  it('never recommends what the viewer already likes', async () => {
    const { items } = await builder.build({}, asViewer(1));
    expect(items.map((item) => item.id)).not.toEqual(expect.arrayContaining([1]));
    expect(items.map((item) => item.id)).not.toEqual(expect.arrayContaining([2]));
    expect(new Set(items.map((item) => item.id)).size).toBe(items.length);
  });

  it('falls back to the most popular items when nobody shares the viewer’s taste', async () => {
    const { items } = await builder.build({}, asViewer(7));
    expect(items.map(summary)).toEqual([
      popular(1, 3),
      popular(2, 3),
      popular(3, 2),
      popular(6, 2),
      popular(4, 1),
      popular(5, 1),
      popular(7, 1),
      popular(8, 0),
    ]);
  });

  it('throws FragmentNotFoundError for an unknown viewer', async () => {
    await expect(builder.build({}, asViewer(999))).rejects.toThrow(FragmentNotFoundError);
    await expect(builder.build({}, asViewer(999))).rejects.toThrow('user 999 not found');
  });

  it('gives up when the build is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('build timed out'));
    await expect(builder.build({}, asViewer(1, controller.signal))).rejects.toThrow('build timed out');
  });

  it('survives a JSON round trip unchanged (what the cache stores), in the shape its contract states', async () => {
    const data = await builder.build({}, asViewer(1));
    expect(JSON.parse(JSON.stringify(data))).toEqual(data);
    // The schema the OpenAPI document is generated from: no field missing, none unlisted (parse drops those).
    expect(recommendationsData.parse(data)).toEqual(data);
  });

  it('is injectable: Nest resolves its DbReader through DbModule', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DbModule.forRootAsync({ useFactory: () => ({ url: db.url, poolSize: 2 }) })],
      providers: [RecommendationsBuilder],
    }).compile();
    try {
      expect((await moduleRef.get(RecommendationsBuilder).build({}, asViewer(1))).items[0].id).toBe(3);
    } finally {
      await moduleRef.close();
    }
  });
});

/** The algorithm, spelled out in plain code over every like, to check the SQL against. */
function reference(
  likes: Map<number, Set<number>>,
  viewerId: number,
): Array<{ id: number; score: number; similarUsers: number }> {
  const mine = likes.get(viewerId) ?? new Set<number>();
  const neighbours = [...likes.entries()]
    .filter(([userId]) => userId !== viewerId)
    .map(([userId, theirs]) => ({ userId, theirs, overlap: [...theirs].filter((item) => mine.has(item)).length }))
    .filter(({ overlap }) => overlap > 0)
    .sort((a, b) => b.overlap - a.overlap || a.userId - b.userId)
    .slice(0, MAX_NEIGHBOURS);
  const candidates = new Map<number, { score: number; similarUsers: number }>();
  for (const { theirs, overlap } of neighbours) {
    for (const item of theirs) {
      if (mine.has(item)) continue;
      const candidate = candidates.get(item) ?? { score: 0, similarUsers: 0 };
      candidates.set(item, { score: candidate.score + overlap, similarUsers: candidate.similarUsers + 1 });
    }
  }
  return [...candidates.entries()]
    .map(([id, candidate]) => ({ id, ...candidate }))
    .sort((a, b) => b.score - a.score || b.similarUsers - a.similarUsers || a.id - b.id)
    .slice(0, RECOMMENDATIONS_SIZE);
}

describe('RecommendationsBuilder on seeded data (real Postgres)', () => {
  let db: TestDatabase;
  const likes = new Map<number, Set<number>>();

  beforeAll(async () => {
    // 1,500 users: enough that popular items give some viewers more than MAX_NEIGHBOURS similar users.
    db = await createTestDatabase({ seed: { scale: 0.15 } });
    const rows: Array<{ user_id: number; item_id: number }> = await db.dataSource.query(
      'SELECT user_id, item_id FROM likes',
    );
    for (const { user_id, item_id } of rows) {
      likes.set(user_id, (likes.get(user_id) ?? new Set()).add(item_id));
    }
  }, 60_000);

  afterAll(() => db?.drop());

  it('matches the reference algorithm, including the neighbour cap', async () => {
    const builder = new RecommendationsBuilder(DbReader.forPrimary(db.dataSource));
    let capped = 0;
    for (let viewerId = 1; viewerId <= 1_500; viewerId += 15) {
      const mine = likes.get(viewerId) ?? new Set<number>();
      const overlapping = [...likes.entries()].filter(
        ([id, theirs]) => id !== viewerId && [...theirs].some((item) => mine.has(item)),
      ).length;
      if (overlapping > MAX_NEIGHBOURS) capped += 1;
      const { items } = await builder.build({}, asViewer(viewerId));
      const expected = reference(likes, viewerId).map(({ id, score, similarUsers }) =>
        similar(id, score, similarUsers),
      );
      expect([viewerId, items.map(summary)]).toEqual([viewerId, expected]);
    }
    expect(capped).toBeGreaterThan(0);
  }, 60_000);

  it('gives seeded users a full list from similar users, none of it already liked', async () => {
    const builder = new RecommendationsBuilder(DbReader.forPrimary(db.dataSource));
    // Every 4th user keeps this quick; the seed's own spec checks every user has candidates.
    for (let viewerId = 1; viewerId <= 1_500; viewerId += 4) {
      const { items } = await builder.build({}, asViewer(viewerId));
      const mine = likes.get(viewerId) ?? new Set<number>();
      expect([viewerId, items.length]).toEqual([viewerId, RECOMMENDATIONS_SIZE]);
      expect([viewerId, items.filter((item) => mine.has(item.id))]).toEqual([viewerId, []]);
      expect(items[0].reason.kind).toBe('similar-users');
      const scores = items.map((item) => item.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    }
  }, 120_000);
});
