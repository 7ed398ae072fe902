import Bull from 'bull';
import { LazyDataSource, parseWalLsn } from '@worker-pattern/db';
import { createTestDatabase, startLazyDataSource, LocalPostgres, type TestDatabase } from '@worker-pattern/db/testing';
import { TEST_REDIS_URL, uniqueTestPrefix } from '@worker-pattern/fragment/testing';
import { SocialWrites } from '@worker-pattern/writes';
import { OutboxRelay } from './outbox-relay';
import { INVALIDATIONS_QUEUE, type InvalidationJobData } from './invalidation-jobs';

describe('writes and the outbox relay (real Postgres and Redis)', () => {
  let db: TestDatabase;
  let lazy: LazyDataSource;
  let writes: SocialWrites;
  let queue: Bull.Queue<InvalidationJobData>;
  const prefix = uniqueTestPrefix('outbox');

  beforeAll(async () => {
    db = await createTestDatabase({ seed: { scale: 0.05 } });
    lazy = await startLazyDataSource(db.url);
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
  const relay = () => new OutboxRelay(db.dataSource, queue, { statementTimeoutMs: 5000, listenUrl: db.url });

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

  it('fences every job with a WAL position at or past the commit of its writes', async () => {
    await relay().drain();
    const post = await writes.createPost(7, 'fenced');
    const [{ lsn: afterCommit }] = await db.dataSource.query(`SELECT pg_current_wal_insert_lsn()::text AS lsn`);
    const [row] = await db.dataSource.query(`SELECT id FROM outbox WHERE payload->>'postId' = $1`, [post.id]);
    await relay().drain();
    const job = await queue.getJob(`outbox.${row.id}`);
    expect(job?.data.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    // Read after the write's commit returned, so at or past its commit record.
    expect(parseWalLsn(job!.data.lsn!) >= parseWalLsn(afterCommit)).toBe(true);
  });
});

describe("the relay's freshness fence against a real streaming replica", () => {
  let primary: LocalPostgres;
  let replica: LocalPostgres;
  let db: TestDatabase;
  let lazy: LazyDataSource;
  let queue: Bull.Queue<InvalidationJobData>;
  const prefix = uniqueTestPrefix('fence');

  beforeAll(async () => {
    primary = await LocalPostgres.create();
    replica = await primary.createReplica();
    db = await createTestDatabase({ adminUrl: primary.adminUrl, seed: { scale: 0.02 } });
    lazy = await startLazyDataSource(db.url);
    queue = new Bull(INVALIDATIONS_QUEUE, TEST_REDIS_URL, { prefix: `${prefix}bull` });
    await replica.caughtUp();
  }, 60_000);

  afterAll(async () => {
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await lazy?.onApplicationShutdown();
    await db?.drop().catch(() => undefined);
    await replica?.destroy();
    await primary?.destroy();
  });

  const replayed = async (lsn: string) =>
    (await replica.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn]))[0]!.ok;
  const onReplica = async (postIds: string[]) =>
    (
      await replica.query<{ id: string }>(
        `SELECT id::text AS id FROM posts WHERE id = ANY($1::bigint[])`,
        [postIds],
        db.name,
      )
    ).map((r) => r.id);

  it('holds a replica off until it has replayed the writes, then they are all there, with nothing else written', async () => {
    const writes = new SocialWrites(lazy);
    const relay = new OutboxRelay(db.dataSource, queue, { statementTimeoutMs: 5000, listenUrl: db.url });
    await replica.pauseReplay();
    // Writes racing the relay: whichever batch a post lands in, its job's position covers it.
    const posting = Promise.all(Array.from({ length: 30 }, (_, i) => writes.createPost(1 + (i % 5), `fenced ${i}`)));
    const draining = (async () => {
      for (let i = 0; i < 20; i++) {
        await relay.drain();
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const posts = await posting;
    await draining;
    await relay.drain();
    const jobs = await Promise.all(
      (
        await db.dataSource.query(
          `SELECT id, payload->>'postId' AS post FROM outbox WHERE payload->>'postId' = ANY($1::text[])`,
          [posts.map((p) => p.id)],
        )
      ).map(async (row: { id: string; post: string }) => ({
        post: row.post,
        job: await queue.getJob(`outbox.${row.id}`),
      })),
    );
    expect(jobs).toHaveLength(30);
    const fences = [...new Set(jobs.map(({ job }) => job!.data.lsn!))];
    for (const lsn of fences) expect(await replayed(lsn)).toBe(false);
    expect(await onReplica(posts.map((p) => p.id))).toEqual([]);
    await replica.resumeReplay();
    for (const lsn of fences.sort((a, b) => (parseWalLsn(a) < parseWalLsn(b) ? -1 : 1))) {
      // Reachable without any further write: the relay's own commit lies past it.
      for (let i = 0; i < 200 && !(await replayed(lsn)); i++) await new Promise((r) => setTimeout(r, 25));
      expect(await replayed(lsn)).toBe(true);
      const covered = jobs.filter(({ job }) => parseWalLsn(job!.data.lsn!) <= parseWalLsn(lsn)).map((j) => j.post);
      expect((await onReplica(covered)).sort()).toEqual([...covered].sort());
    }
  });
});
