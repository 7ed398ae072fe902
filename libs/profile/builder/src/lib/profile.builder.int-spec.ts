import { Test } from '@nestjs/testing';
import { DbModule, DbReader } from '@worker-pattern/db';
import { createTestDatabase, TestDatabase } from '@worker-pattern/db/testing';
import { FragmentBuildContext, FragmentNotFoundError } from '@worker-pattern/fragment';
import { ProfileBuilder } from './profile.builder';
import { profileData } from '@worker-pattern/profile';

/** Public scope: the engine passes no viewer. */
function context(): FragmentBuildContext {
  return { viewerId: null, signal: new AbortController().signal, attempt: 1 };
}

describe('ProfileBuilder (real Postgres)', () => {
  let db: TestDatabase;
  let builder: ProfileBuilder;

  beforeAll(async () => {
    db = await createTestDatabase();
    builder = new ProfileBuilder(DbReader.forPrimary(db.dataSource));
    // ada: followed by bob and cy, follows bob; 3 posts; likes 2 items. bob: no bio, nothing else of note.
    await db.dataSource.query(`
      INSERT INTO users (id, handle, display_name, bio, created_at) VALUES
        (1, 'ada', 'Ada Lovelace', 'Writes programs for engines.', '2024-03-01T10:00:00Z'),
        (2, 'bob', 'Bob', '', '2024-04-01T10:00:00Z'),
        (3, 'cy', 'Cy', 'Hi', '2024-05-01T10:00:00Z');
      INSERT INTO follows (follower_id, followee_id) VALUES (2, 1), (3, 1), (1, 2), (3, 2);
      INSERT INTO posts (author_id, body) VALUES (1, 'one'), (1, 'two'), (1, 'three'), (2, 'bob here');
      INSERT INTO items (id, title, category) VALUES (1, 'Dune', 'Books'), (2, 'Blue Train', 'Music'), (3, 'Alien', 'Films');
      INSERT INTO likes (user_id, item_id) VALUES (1, 1), (1, 2), (2, 1), (3, 3);
    `);
  }, 30_000);

  afterAll(() => db?.drop());

  it('returns the user and their counts', async () => {
    await expect(builder.build({ userId: 1 }, context())).resolves.toEqual({
      user: {
        id: 1,
        handle: 'ada',
        displayName: 'Ada Lovelace',
        bio: 'Writes programs for engines.',
        joinedAt: '2024-03-01T10:00:00.000Z',
      },
      counts: { followers: 2, following: 1, posts: 3, likes: 2 },
    });
  });

  it('counts each user separately', async () => {
    const bob = await builder.build({ userId: 2 }, context());
    expect(bob.user).toMatchObject({ id: 2, handle: 'bob', bio: '' });
    expect(bob.counts).toEqual({ followers: 2, following: 1, posts: 1, likes: 1 });
    const cy = await builder.build({ userId: 3 }, context());
    expect(cy.counts).toEqual({ followers: 0, following: 2, posts: 0, likes: 1 });
  });

  it('gives the same result whoever asks (public scope)', async () => {
    const asAnonymous = await builder.build({ userId: 1 }, context());
    const asViewer = await builder.build({ userId: 1 }, { ...context(), viewerId: 2 });
    expect(asViewer).toEqual(asAnonymous);
  });

  it('survives a JSON round trip unchanged (what the cache stores), in the shape its contract states', async () => {
    const data = await builder.build({ userId: 1 }, context());
    expect(JSON.parse(JSON.stringify(data))).toEqual(data);
    // The schema the OpenAPI document is generated from: no field missing, none unlisted (parse drops those).
    expect(profileData.parse(data)).toEqual(data);
  });

  it('throws FragmentNotFoundError for an unknown user', async () => {
    const building = builder.build({ userId: 123 }, context());
    await expect(building).rejects.toThrow(FragmentNotFoundError);
    await expect(builder.build({ userId: 123 }, context())).rejects.toThrow('user 123 not found');
  });

  it('does not query once the build is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    await expect(builder.build({ userId: 1 }, { ...context(), signal: controller.signal })).rejects.toThrow(
      'shutting down',
    );
  });

  it('is injectable: Nest resolves its DbReader through DbModule', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DbModule.forRootAsync({ useFactory: () => ({ url: db.url, poolSize: 1 }) })],
      providers: [ProfileBuilder],
    }).compile();
    try {
      const data = await moduleRef.get(ProfileBuilder).build({ userId: 1 }, context());
      expect(data.user.handle).toBe('ada');
    } finally {
      await moduleRef.close();
    }
  });
});

describe('ProfileBuilder on seeded data (real Postgres)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ seed: { scale: 0.02 } });
  }, 60_000);

  afterAll(() => db?.drop());

  it('agrees with plain counts for every seeded user', async () => {
    const builder = new ProfileBuilder(DbReader.forPrimary(db.dataSource));
    const expected: Array<{ id: number; followers: number; following: number; posts: number; likes: number }> = await db
      .dataSource.query(`
      SELECT u.id,
             (SELECT count(*) FROM follows WHERE followee_id = u.id)::int AS followers,
             (SELECT count(*) FROM follows WHERE follower_id = u.id)::int AS following,
             (SELECT count(*) FROM posts WHERE author_id = u.id)::int AS posts,
             (SELECT count(*) FROM likes WHERE user_id = u.id)::int AS likes
        FROM users u ORDER BY u.id`);
    expect(expected).toHaveLength(200);
    for (const { id, ...counts } of expected) {
      const profile = await builder.build({ userId: id }, context());
      expect([id, profile.counts]).toEqual([id, counts]);
      expect(profile.counts.following).toBeGreaterThanOrEqual(5);
      expect(profile.counts.posts).toBeGreaterThanOrEqual(1);
    }
  }, 30_000);
});
