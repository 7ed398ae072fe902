import { LocalPostgres } from './support/servers';
import { Stack } from './support/stack';

type Post = { id: string };
type F = { status: string; data?: { posts?: Post[] }; builtAt?: string };
type Page = { fragments: Record<string, { status: string }> };

const BUILDERS = ['profile-worker', 'feed-worker', 'recommendations-worker'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

/**
 * Builders on a real streaming replica (pg_basebackup -R from a Postgres of the test's own), with
 * every app behind PgBouncer in transaction mode: reads spread to the replica, a build caused by a
 * write never reads a replica that has not replayed that write, and a replica that dies mid-load
 * costs nothing but a move to the primary.
 */
describe('builders reading from a streaming replica, through PgBouncer', () => {
  let primary: LocalPostgres;
  let replica: LocalPostgres;
  let stack: Stack;

  beforeAll(async () => {
    primary = await LocalPostgres.create();
    replica = await primary.createReplica();
    stack = await Stack.start({
      users: 600,
      adminDatabaseUrl: primary.adminUrl,
      replicas: [replica],
      // A paused replica stays in rotation for a minute: only the freshness fence keeps builds off it.
      env: { DATABASE_REPLICA_MAX_LAG_MS: '60000', DATABASE_REPLICA_WAIT_MS: '500' },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    await replica?.destroy();
    await primary?.destroy();
  });

  const reads = async (server: string, workers: readonly (typeof BUILDERS)[number][] = BUILDERS) =>
    (await Promise.all(workers.map((w) => stack.metric(w, 'db_reads_total', { server })))).reduce((a, b) => a + b, 0);

  async function send(method: string, path: string, token: string, body?: unknown): Promise<Response> {
    return fetch(`${stack.url()}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async function feed(token: string, waitMs = 0): Promise<F> {
    return (await (await stack.get(`/api/fragments/feed${waitMs ? `?waitMs=${waitMs}` : ''}`, token)).json()) as F;
  }

  async function pageReady(token: string): Promise<void> {
    await eventually(async () => {
      const response = await stack.get('/api/pages/dashboard?waitMs=2000', token);
      expect(response.status).toBe(200);
      const page = (await response.json()) as Page;
      return Object.values(page.fragments).every((f) => f.status === 'ready') ? true : undefined;
    }, 'dashboard ready');
  }

  /** Copies the invalidation worker has marked stale so far (each write's fan-out adds to it). */
  const invalidated = () =>
    Promise.all(
      ['absent', 'stale', 'rebuild'].map((outcome) =>
        stack.metric('invalidation-worker', 'fragment_invalidations_total', { fragment: 'feed', outcome }),
      ),
    ).then((counts) => counts.reduce((a, b) => a + b, 0));

  it('spreads builds to the replica while it keeps up', async () => {
    await pageReady(await stack.login(250));
    const before = await reads('replica-1');
    await pageReady(await stack.login(251));
    // Every builder read its part of a cold page from the replica.
    for (const worker of BUILDERS) {
      expect(await stack.metric(worker, 'db_replica_up', { replica: 'replica-1' })).toBe(1);
    }
    expect(await reads('replica-1')).toBeGreaterThanOrEqual(before + 3);
  });

  describe('with the replica’s replay paused', () => {
    const [followerId, authorId] = [301, 302];
    let follower: string;
    let author: string;

    beforeAll(async () => {
      [follower, author] = [await stack.login(followerId), await stack.login(authorId)];
      expect([200, 201]).toContain((await send('POST', '/api/follows', follower, { userId: authorId })).status);
      // The follower looks at their feed: cached, and counted as read, so a post rebuilds it at once.
      await eventually(async () => ((await feed(follower, 2000)).status === 'ready' ? true : undefined), 'feed ready');
      await replica.caughtUp();
      await replica.pauseReplay();
    });

    afterAll(() => replica.resumeReplay());

    it('never serves the follower’s feed ready without a new post once its invalidation landed', async () => {
      const [fencedBefore, primaryBefore, invalidatedBefore] = [
        await stack.metric('feed-worker', 'db_read_fallbacks_total', { reason: 'fence_timeout' }),
        await reads('primary', ['feed-worker']),
        await invalidated(),
      ];
      const created = await send('POST', '/api/posts', author, { body: `while the replica is paused ${Date.now()}` });
      expect(created.status).toBe(201);
      const post = (await created.json()) as Post;
      const written = Date.now();

      // Watch the feed as a polling client would, and, beside it, for the invalidation to land.
      const seen: Array<{ askedAt: number; status: string; hasPost: boolean }> = [];
      const watching = (async () => {
        for (;;) {
          const askedAt = Date.now();
          const f = await feed(follower);
          const hasPost = (f.data?.posts ?? []).some((p) => p.id === post.id);
          seen.push({ askedAt, status: f.status, hasPost });
          if (f.status === 'ready' && hasPost) return Date.now();
          if (Date.now() - written > 20_000) throw new Error('the post never showed');
          await sleep(20);
        }
      })();
      await eventually(async () => ((await invalidated()) > invalidatedBefore ? true : undefined), 'invalidation');
      const landedAt = Date.now();
      const visibleAt = await watching;

      const afterLanding = seen.filter((s) => s.askedAt >= landedAt);
      expect(afterLanding.filter((s) => s.status === 'ready' && !s.hasPost)).toEqual([]);
      // The rebuild waited for the replica, gave up on it, and read the primary.
      expect(await stack.metric('feed-worker', 'db_read_fallbacks_total', { reason: 'fence_timeout' })).toBeGreaterThan(
        fencedBefore,
      );
      expect(await reads('primary', ['feed-worker'])).toBeGreaterThan(primaryBefore);
      console.log(
        `replay paused: post visible in the follower's feed ${visibleAt - written} ms after the write ` +
          `(invalidation seen after ${landedAt - written} ms; ${seen.length} reads, statuses ${[
            ...new Set(seen.map((s) => `${s.status}${s.hasPost ? '+post' : ''}`)),
          ].join(', ')})`,
      );
    });

    it('goes back to the replica once replay resumes', async () => {
      await replica.resumeReplay();
      await replica.caughtUp();
      const before = await reads('replica-1', ['feed-worker']);
      const created = await send('POST', '/api/posts', author, { body: `after replay resumed ${Date.now()}` });
      const post = (await created.json()) as Post;
      await eventually(
        async () => ((await feed(follower, 1000)).data?.posts ?? []).some((p) => p.id === post.id) || undefined,
        'the second post in the feed',
      );
      // The rebuild fenced on the new post found the replica caught up, and read it there.
      expect(await reads('replica-1', ['feed-worker'])).toBeGreaterThan(before);
      await pageReady(await stack.login(303));
    });
  });

  it('keeps every request answered and every page built when the replica is killed mid-load', async () => {
    // Cold viewers arriving over three seconds: builds are on the replica when it dies, and after.
    const viewers = await Promise.all(Array.from({ length: 60 }, (_, i) => stack.login(400 + i)));
    const primaryBefore = await reads('primary');
    const statuses: number[] = [];
    const load = viewers.map(async (token, i) => {
      await sleep(i * 50);
      for (let round = 0; round < 40; round++) {
        const response = await stack.get('/api/pages/dashboard?waitMs=1000', token);
        statuses.push(response.status);
        const page = (await response.json()) as Page;
        if (Object.values(page.fragments).every((f) => f.status === 'ready')) return;
      }
      throw new Error(`viewer ${400 + i}: dashboard never ready`);
    });
    await sleep(1000);
    await replica.kill();
    const killedAt = Date.now();
    await Promise.all(load);
    console.log(
      `replica killed mid-load: ${viewers.length} cold dashboards all ready ${Date.now() - killedAt} ms after the kill, ${statuses.length} requests`,
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await reads('primary')).toBeGreaterThan(primaryBefore);
    // Nothing left behind: no build waiting, running or failed.
    await eventually(async () => {
      const counts = await Promise.all(
        ['profile', 'feed', 'recommendations'].flatMap((queue) =>
          ['waiting', 'active', 'delayed', 'failed'].map((state) =>
            stack.metric('gateway', 'bull_queue_jobs', { queue, state }),
          ),
        ),
      );
      return counts.every((n) => n === 0) ? true : undefined;
    }, 'queues drained');
    for (const worker of BUILDERS) {
      await eventually(
        async () => ((await stack.metric(worker, 'db_replica_up', { replica: 'replica-1' })) === 0 ? true : undefined),
        `${worker} taking the dead replica out`,
      );
    }
  });
});
