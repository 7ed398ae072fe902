import { createTestDatabase, TestDatabase } from '../testing';
import { QueryFailedError } from 'typeorm';
import { Follow, Like, Post, User } from './entities/db-entities';
import { isDatabaseEmpty, resetSchema, runMigrations } from './schema-admin';

const TABLES = ['follows', 'items', 'likes', 'outbox', 'posts', 'users'];

describe('schema: migrations and entities (real Postgres)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  }, 30_000);

  afterAll(() => db?.drop());

  async function tables(): Promise<string[]> {
    const rows: Array<{ name: string }> = await db.dataSource.query(
      `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations' ORDER BY 1`,
    );
    return rows.map((row) => row.name);
  }

  it('creates the tables, and the entities match them exactly (nothing for synchronize to do)', async () => {
    expect(await tables()).toEqual(TABLES);
    const pending = await db.dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((query) => query.query)).toEqual([]);
  });

  it('creates the indexes the queries rely on', async () => {
    const rows: Array<{ definition: string }> = await db.dataSource.query(
      `SELECT indexdef AS definition FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'migrations' ORDER BY indexname`,
    );
    expect(rows.map((row) => row.definition.replace(/ USING btree|public\./g, ''))).toEqual([
      'CREATE INDEX follows_followee_id_follower_id_idx ON follows (followee_id, follower_id)',
      'CREATE UNIQUE INDEX follows_pkey ON follows (follower_id, followee_id)',
      'CREATE UNIQUE INDEX items_pkey ON items (id)',
      'CREATE INDEX likes_item_id_user_id_idx ON likes (item_id, user_id)',
      'CREATE UNIQUE INDEX likes_pkey ON likes (user_id, item_id)',
      'CREATE INDEX outbox_pending_idx ON outbox (id) WHERE (dispatched_at IS NULL)',
      'CREATE UNIQUE INDEX outbox_pkey ON outbox (id)',
      'CREATE INDEX posts_author_id_created_at_id_idx ON posts (author_id, created_at DESC, id DESC)',
      'CREATE UNIQUE INDEX posts_pkey ON posts (id)',
      'CREATE UNIQUE INDEX users_handle_key ON users (handle)',
      'CREATE UNIQUE INDEX users_pkey ON users (id)',
    ]);
  });

  it('enforces the constraints and cascades deletes through the entities', async () => {
    const users = db.dataSource.getRepository(User);
    const [ada, bob] = await users.save([
      users.create({ handle: 'ada', displayName: 'Ada' }),
      users.create({ handle: 'bob', displayName: 'Bob' }),
    ]);
    const post = await db.dataSource.getRepository(Post).save({ authorId: ada.id, body: 'hello' });
    expect(post.id).toEqual(expect.stringMatching(/^[0-9]+$/));
    expect(post.createdAt).toBeInstanceOf(Date);

    const follows = db.dataSource.getRepository(Follow);
    await follows.insert({ followerId: bob.id, followeeId: ada.id });
    await expect(follows.insert({ followerId: ada.id, followeeId: ada.id })).rejects.toThrow(/follows_no_self_follow/);
    await expect(follows.insert({ followerId: bob.id, followeeId: ada.id })).rejects.toThrow(/follows_pkey/);
    await expect(db.dataSource.getRepository(Post).insert({ authorId: ada.id, body: '' })).rejects.toThrow(
      /posts_body_length/,
    );
    await expect(
      db.dataSource.getRepository(Post).insert({ authorId: ada.id, body: 'x'.repeat(5001) }),
    ).rejects.toThrow(QueryFailedError);
    await expect(db.dataSource.getRepository(Post).insert({ authorId: 999, body: 'orphan' })).rejects.toThrow(
      /posts_author_id_fkey/,
    );
    await expect(users.insert({ handle: 'Not A Handle', displayName: 'x' })).rejects.toThrow(/users_handle_format/);
    await expect(users.insert({ handle: 'ada', displayName: 'Another Ada' })).rejects.toThrow(/users_handle_key/);

    const [item] = await db.dataSource.query(
      `INSERT INTO items (title, category) VALUES ('Dune', 'Books') RETURNING id`,
    );
    await db.dataSource.getRepository(Like).insert({ userId: ada.id, itemId: item.id });

    expect(await isDatabaseEmpty(db.dataSource)).toBe(false);
    await users.delete({ id: ada.id });
    const [left] = await db.dataSource.query(
      `SELECT (SELECT count(*) FROM posts)::int AS posts, (SELECT count(*) FROM follows)::int AS follows, (SELECT count(*) FROM likes)::int AS likes`,
    );
    expect(left).toEqual({ posts: 0, follows: 0, likes: 0 });
  });

  it('reverts every migration and applies them again; a second run applies nothing', async () => {
    while ((await db.dataSource.query(`SELECT count(*)::int AS n FROM migrations`))[0].n > 0) {
      await db.dataSource.undoLastMigration({ transaction: 'each' });
    }
    expect(await tables()).toEqual([]);
    expect(await db.dataSource.showMigrations()).toBe(true);

    expect(await runMigrations(db.dataSource)).toEqual([
      'InitialSchema1764201600000',
      'Outbox1764288000000',
      'FollowsByFollowee1764979200000',
    ]);
    expect(await runMigrations(db.dataSource)).toEqual([]);
    expect(await tables()).toEqual(TABLES);
    expect(await isDatabaseEmpty(db.dataSource)).toBe(true);
  });

  it('resets: drops data and history, then migrates from scratch', async () => {
    await db.dataSource.query(`INSERT INTO users (handle, display_name) VALUES ('zed', 'Zed')`);
    expect(await isDatabaseEmpty(db.dataSource)).toBe(false);
    expect(await resetSchema(db.dataSource)).toEqual([
      'InitialSchema1764201600000',
      'Outbox1764288000000',
      'FollowsByFollowee1764979200000',
    ]);
    expect(await tables()).toEqual(TABLES);
    expect(await isDatabaseEmpty(db.dataSource)).toBe(true);
    const [{ id }] = await db.dataSource.query(
      `INSERT INTO users (handle, display_name) VALUES ('zed', 'Zed') RETURNING id`,
    );
    expect(id).toBe(1);
  });
});
