import { Client } from 'pg';
import { LocalPostgres, LocalRedis } from './support/servers';
import { SseStream } from './support/sse';
import { Stack } from './support/stack';

type Page = { fragments: Record<string, { status: string }> };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(
  probe: () => Promise<T | undefined>,
  ms = 20_000,
  what = 'condition',
): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return { value, ms: Date.now() - started };
    if (Date.now() - started > ms) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(100);
  }
}

async function dashboard(stack: Stack, token: string, waitMs = 0): Promise<{ status: number; page?: Page }> {
  const response = await stack.get(`/api/pages/dashboard${waitMs ? `?waitMs=${waitMs}` : ''}`, token);
  return { status: response.status, page: response.ok ? ((await response.json()) as Page) : undefined };
}

const allReady = (page?: Page) =>
  page !== undefined && Object.values(page.fragments).every((f) => f.status === 'ready');

async function pageReady(stack: Stack, token: string, ms = 30_000, what = 'dashboard ready'): Promise<number> {
  return (
    await eventually(async () => (allReady((await dashboard(stack, token, 1000)).page) ? true : undefined), ms, what)
  ).ms;
}

/** Holds `LOCK TABLE likes`, so recommendation builds block inside Postgres: a build "in flight". */
async function lockLikes(databaseUrl: string): Promise<() => Promise<void>> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE likes IN ACCESS EXCLUSIVE MODE');
  return async () => {
    await client.query('COMMIT');
    await client.end();
  };
}

describe('faults: crashes and restarts lose nothing, and the system recovers by itself', () => {
  describe('workers', () => {
    let stack: Stack;

    beforeAll(async () => {
      // Short locks, so stalled-job recovery after a SIGKILL happens within seconds; a short
      // shutdown budget, so a SIGTERM drains quickly.
      stack = await Stack.start({
        users: 600,
        env: { BULL_LOCK_DURATION_MS: '2000', BULL_STALLED_INTERVAL_MS: '1000', SHUTDOWN_TIMEOUT_MS: '4000' },
      });
    });

    afterAll(async () => {
      await stack?.stop();
    });

    const activeBuilds = async () => stack.redis.llen(stack.queueKey('recommendations', 'active'));

    it('finishes a build whose worker was killed (SIGKILL) mid-build, on another worker', async () => {
      const token = await stack.login(201);
      const unlock = await lockLikes(stack.databaseUrl);
      try {
        await dashboard(stack, token);
        await eventually(async () => ((await activeBuilds()) === 1 ? true : undefined), 10_000, 'a build in flight');
        await stack.app('recommendations-worker').stop('SIGKILL');
      } finally {
        await unlock();
      }
      const restarted = Date.now();
      await stack.startApp('recommendations-worker');
      const ms = await pageReady(stack, token);
      console.log(
        `SIGKILL mid-build: page complete ${Date.now() - restarted} ms after a new worker started (${ms} ms of polling)`,
      );
    });

    it('brings a watching stream to ready when a build’s worker is killed twice and Bull fails the job as stalled', async () => {
      const token = await stack.login(203);
      // Locked before the stream asks: the build must block in Postgres, not finish first.
      const unlock = await lockLikes(stack.databaseUrl);
      let stream: SseStream | undefined;
      const recommendations = () =>
        (stream?.data<{ name: string; status: string }>('fragment') ?? []).filter((e) => e.name === 'recommendations');
      const failedBefore = await stack.redis.zcard(stack.queueKey('recommendations', 'failed'));
      try {
        stream = await SseStream.open(`${stack.url()}/api/pages/dashboard/stream`, {
          authorization: `Bearer ${token}`,
        });
        // Killed mid-build twice: the first stall puts the job back, the second makes Bull fail it.
        for (let stalls = 0; stalls < 2; stalls++) {
          // In flight: taken (locked) by a live worker, after the stalls so far.
          await eventually(
            async () => {
              // This viewer's job (other recommendation builds block on the same lock).
              const active = await stack.redis.lrange(stack.queueKey('recommendations', 'active'), 0, -1);
              const data = await Promise.all(
                active.map((id) => stack.redis.hget(stack.queueKey('recommendations', id), 'data')),
              );
              const id = active.find((_, i) => (JSON.parse(data[i] ?? '{}') as { viewerId?: number }).viewerId === 203);
              if (id === undefined) return undefined;
              const [locked, counter] = await Promise.all([
                stack.redis.exists(stack.queueKey('recommendations', `${id}:lock`)),
                stack.redis.hget(stack.queueKey('recommendations', id), 'stalledCounter'),
              ]);
              return locked === 1 && Number(counter ?? 0) === stalls ? true : undefined;
            },
            15_000,
            `a build in flight after ${stalls} stall(s)`,
          );
          await stack.app('recommendations-worker').stop('SIGKILL');
          await stack.startApp('recommendations-worker');
        }
        await eventually(
          async () =>
            (await stack.redis.zcard(stack.queueKey('recommendations', 'failed'))) > failedBefore ? true : undefined,
          15_000,
          'Bull failed the twice-stalled job',
        );
      } finally {
        await unlock();
      }
      const failedAt = Date.now();
      // Bull never runs a failed job again. The worker whose stalled check failed it records the
      // failure on the copy: the stream shows it failed, and asks again once the failure's backoff
      // ends (not the 90 s build lease), which builds it.
      await stream!.waitFor(() => recommendations().at(-1)?.status === 'ready', 60_000);
      stream!.close();
      console.log(
        `worker killed twice mid-build: Bull failed the job; the stream got recommendations ready ${Date.now() - failedAt} ms later`,
      );
      expect(recommendations().map((e) => e.status)).toEqual(['pending', 'failed', 'pending', 'ready']);
    }, 120_000);

    it('drains within its budget on SIGTERM and hands an unfinished build back, losing nothing', async () => {
      const token = await stack.login(202);
      const unlock = await lockLikes(stack.databaseUrl);
      let code: number | null;
      let exitMs: number;
      try {
        await dashboard(stack, token);
        await eventually(async () => ((await activeBuilds()) === 1 ? true : undefined), 10_000, 'a build in flight');
        const started = Date.now();
        code = await stack.app('recommendations-worker').stop('SIGTERM', 10_000);
        exitMs = Date.now() - started;
      } finally {
        await unlock();
      }
      // 0: closed on its own within SHUTDOWN_TIMEOUT_MS (its watchdog would have exited 1).
      expect(code).toBe(0);
      expect(await activeBuilds()).toBe(0);
      // A worker with the default 30 s lock: only a handed-back job can be built within the wait below.
      await stack.startApp('recommendations-worker', {
        BULL_LOCK_DURATION_MS: '30000',
        BULL_STALLED_INTERVAL_MS: '30000',
      });
      const ms = await pageReady(stack, token, 15_000, 'handed-back build done');
      console.log(
        `SIGTERM mid-build: exited 0 after ${exitMs} ms (budget 4000 ms); page complete ${ms} ms after a new worker started`,
      );
    });

    it('loses no write and no invalidation when the gateway is killed during writes', async () => {
      const [author, follower] = [await stack.login(211), await stack.login(212)];
      await stack.get('/api/fragments/feed?waitMs=2000', follower);
      await fetch(`${stack.url()}/api/follows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${follower}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 211 }),
      });
      const post = (i: number) =>
        fetch(`${stack.url()}/api/posts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${author}`, 'content-type': 'application/json' },
          body: JSON.stringify({ body: `burst ${i}` }),
        })
          .then(async (r) => (r.status === 201 ? ((await r.json()) as { id: string }).id : null))
          .catch(() => null);
      // Ten writers posting one after another; the gateway dies while they are at it.
      const acknowledged: string[] = [];
      let next = 0;
      const writers = Array.from({ length: 10 }, async () => {
        while (next < 300) {
          const id = await post(next++);
          if (id === null) return;
          acknowledged.push(id);
        }
      });
      await eventually(async () => (acknowledged.length >= 40 ? true : undefined), 20_000, 'writes under way');
      await stack.app('gateway').stop('SIGKILL');
      await Promise.all(writers);
      await stack.startApp('gateway');
      console.log(
        `gateway killed (SIGKILL) during a burst of posts: ${acknowledged.length} acknowledged before it died`,
      );
      // Every acknowledged write is there; every write that committed has its outbox row, relayed.
      const rows = await stack.query<{ id: string; relayed: boolean }>(
        `SELECT p.id::text AS id, bool_and(o.dispatched_at IS NOT NULL) AS relayed
           FROM posts p LEFT JOIN outbox o ON o.topic = 'post.created' AND (o.payload->>'postId') = p.id::text
          WHERE p.author_id = 211 AND p.body LIKE 'burst %' GROUP BY p.id`,
      );
      expect(rows.map((r) => r.id)).toEqual(expect.arrayContaining(acknowledged));
      const { ms } = await eventually(
        async () => {
          const [{ pending }] = await stack.query<{ pending: number }>(
            `SELECT count(*)::int AS pending FROM outbox WHERE dispatched_at IS NULL`,
          );
          const queued = await stack.redis.llen(stack.queueKey('invalidations', 'wait'));
          const active = await stack.redis.llen(stack.queueKey('invalidations', 'active'));
          return pending === 0 && queued === 0 && active === 0 ? true : undefined;
        },
        20_000,
        'every outbox row relayed and invalidated',
      );
      expect(await stack.redis.zcard(stack.queueKey('invalidations', 'failed'))).toBe(0);
      const committed = await stack.query<{ id: string }>(
        `SELECT id::text AS id FROM posts WHERE author_id = 211 AND body LIKE 'burst %'`,
      );
      const outbox = await stack.query<{ id: string }>(
        `SELECT payload->>'postId' AS id FROM outbox WHERE topic = 'post.created' AND (payload->>'authorId')::int = 211`,
      );
      expect(new Set(outbox.map((r) => r.id))).toEqual(new Set(committed.map((r) => r.id)));
      // And the follower sees the newest committed post.
      const newest = committed
        .map((r) => BigInt(r.id))
        .sort((a, b) => (a < b ? 1 : -1))[0]!
        .toString();
      await eventually(async () => {
        const response = await stack.get('/api/fragments/feed?waitMs=1000', follower);
        const feed = (await response.json()) as { data?: { posts: Array<{ id: string }> } };
        return feed.data?.posts.some((p) => p.id === newest) ? true : undefined;
      });
      console.log(
        `after the gateway restart: all ${committed.length} committed posts relayed and invalidated within ${ms} ms`,
      );
    });
  });

  describe('Redis restarted', () => {
    let redis: LocalRedis;
    let stack: Stack;

    beforeAll(async () => {
      redis = await LocalRedis.create();
      stack = await Stack.start({ users: 600, redisUrl: redis.url });
    });

    afterAll(async () => {
      if (redis && !redis.running) await redis.start();
      await stack?.stop();
      await redis?.destroy();
    });

    it('answers 503 fast while Redis is down, reports not ready, and recovers without a restart', async () => {
      const warm = await stack.login(221);
      await pageReady(stack, warm);
      await redis.stop();
      const started = Date.now();
      const down = await stack.get('/api/pages/dashboard', warm);
      const answeredMs = Date.now() - started;
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBeTruthy();
      expect((await stack.get('/health/ready')).status).toBe(503);
      expect((await stack.get('/health/live')).status).toBe(200);
      await sleep(1000);
      await redis.start();
      const restarted = Date.now();
      await eventually(
        async () => ((await stack.get('/health/ready')).status === 200 ? true : undefined),
        30_000,
        'gateway ready again',
      );
      for (const worker of ['profile-worker', 'feed-worker', 'recommendations-worker'] as const) {
        await eventually(
          async () => ((await stack.get('/health/ready', undefined, worker)).status === 200 ? true : undefined),
          30_000,
          `${worker} ready`,
        );
      }
      // Redis came back empty: a new viewer's fragments build through the recovered queues and events.
      const cold = await stack.login(222);
      await pageReady(stack, cold, 30_000, 'new fragments built after the restart');
      console.log(
        `Redis down: 503 in ${answeredMs} ms; after Redis returned, a cold page was complete ${Date.now() - restarted} ms later`,
      );
      expect(
        ['gateway', 'profile-worker', 'feed-worker', 'recommendations-worker', 'invalidation-worker'].every(
          (n) => stack.app(n as never).running,
        ),
      ).toBe(true);
    });
  });

  describe('Postgres down', () => {
    let postgres: LocalPostgres;
    let stack: Stack;

    beforeAll(async () => {
      postgres = await LocalPostgres.create();
      stack = await Stack.start({ users: 600, adminDatabaseUrl: postgres.adminUrl });
    });

    afterAll(async () => {
      if (postgres && !postgres.running) await postgres.start();
      await stack?.stop();
      await postgres?.destroy();
    });

    it('keeps serving cached pages, retries builds with backoff, and completes pending fragments when it returns', async () => {
      const warm = await stack.login(231);
      await pageReady(stack, warm);
      const retriesBefore = await stack.metric('recommendations-worker', 'fragment_builds_total', {
        fragment: 'recommendations',
        outcome: 'retry',
      });
      await postgres.stop();
      const cold = await stack.login(232);
      const pending = await dashboard(stack, cold);
      expect(pending.status).toBe(200);
      expect(Object.values(pending.page!.fragments).map((f) => f.status)).toEqual(['pending', 'pending', 'pending']);
      expect(allReady((await dashboard(stack, warm)).page)).toBe(true);
      const write = await fetch(`${stack.url()}/api/posts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${warm}`, 'content-type': 'application/json' },
        body: JSON.stringify({ body: 'while the database is down' }),
      });
      expect(write.status).toBe(503);
      await eventually(
        async () =>
          (await stack.metric('recommendations-worker', 'fragment_builds_total', {
            fragment: 'recommendations',
            outcome: 'retry',
          })) > retriesBefore
            ? true
            : undefined,
        15_000,
        'a build retried',
      );
      expect(allReady((await dashboard(stack, warm)).page)).toBe(true);
      await postgres.start();
      const restarted = Date.now();
      await pageReady(stack, cold, 40_000, 'pending fragments complete after Postgres returned');
      console.log(
        `Postgres down: cached pages kept serving, writes 503; pending fragments completed ${Date.now() - restarted} ms after Postgres returned`,
      );
      const after = await fetch(`${stack.url()}/api/posts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${warm}`, 'content-type': 'application/json' },
        body: JSON.stringify({ body: 'after the database returned' }),
      });
      expect(after.status).toBe(201);
    });
  });
});
