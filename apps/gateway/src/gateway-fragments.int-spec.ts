import { FragmentInvalidator, FragmentNearCache, FragmentResolver } from '@worker-pattern/fragment';
import { register } from 'prom-client';
import { FRAGMENT_CATALOG_DEFINITIONS } from '@worker-pattern/pages';
import { GatewayTestApp } from './testing/gateway-test-app';
import { type BeforeTestBuild, TestWorkers } from './testing/test-workers';

type F = { status: string; builtAt?: string; error?: string; errorCode?: string };

const profile = FRAGMENT_CATALOG_DEFINITIONS.find((d) => d.name === 'profile')!;

/** What the test workers' builds do for one profile: counted, and held or failed while the test says so. */
class ProfileBuilds {
  readonly counts = new Map<number, number>();
  private held?: Promise<void>;
  private release?: () => void;
  readonly failing = new Set<number>();

  readonly before: BeforeTestBuild = async (fragment, params) => {
    if (fragment !== 'profile') return;
    const userId = Number(params['userId']);
    this.counts.set(userId, (this.counts.get(userId) ?? 0) + 1);
    await this.held;
    if (this.failing.has(userId)) throw new Error('the database is away (simulated)');
  };

  hold(): () => void {
    this.held = new Promise((resolve) => (this.release = resolve));
    return () => {
      this.held = undefined;
      this.release?.();
    };
  }
}

describe('single fragments over HTTP, built by in-process workers (real Redis, Bull and Postgres)', () => {
  let gateway: GatewayTestApp;
  let workers: TestWorkers;
  const builds = new ProfileBuilds();

  beforeAll(async () => {
    gateway = await GatewayTestApp.start({ env: { RATE_LIMIT_PER_MINUTE: '1000000' } });
    workers = await TestWorkers.start(gateway.keyPrefix, `${gateway.keyPrefix}bull`, builds.before);
  }, 60_000);

  afterAll(async () => {
    await workers?.close();
    await gateway?.close();
  });

  const get = async (userId: number, waitMs = 0) => {
    const response = await gateway.app.inject({
      method: 'GET',
      url: `/api/fragments/profile?userId=${userId}${waitMs ? `&waitMs=${waitMs}` : ''}`,
      headers: { authorization: `Bearer ${gateway.token(1)}` },
    });
    return { status: response.statusCode, retryAfter: response.headers['retry-after'], body: response.json<F>() };
  };

  it('serves a stale copy to every request while exactly one rebuild runs, then the new one', async () => {
    const userId = 7;
    const first = await get(userId, 2000);
    expect(first.body.status).toBe('ready');
    const release = builds.hold();
    const target = gateway.app.get(FragmentResolver).target(profile, { userId: String(userId) }, { viewerId: 1 });
    expect(await gateway.app.get(FragmentInvalidator).invalidate([target])).toMatchObject({ rebuilding: 1 });
    // The rebuild is held in its builder: 20 requests meanwhile get the old copy, marked stale.
    const during = await Promise.all(Array.from({ length: 20 }, () => get(userId)));
    expect(during.map((r) => [r.status, r.body.status, r.body.builtAt])).toEqual(
      during.map(() => [200, 'stale', first.body.builtAt]),
    );
    release();
    let after = await get(userId, 2000);
    for (let i = 0; i < 20 && after.body.status !== 'ready'; i++) after = await get(userId, 2000);
    expect(after.body.status).toBe('ready');
    expect(after.body.builtAt! > first.body.builtAt!).toBe(true);
    expect(builds.counts.get(userId)).toBe(2); // the first build and one rebuild, for 22 requests
  });

  it('serves a fresh copy from its near cache, and stops the moment a write invalidates it', async () => {
    const userId = 8;
    const hits = async () =>
      Number(
        /^fragment_near_cache_reads_total\{outcome="hit"[^}]*\} (\d+)$/m.exec(
          await register.getSingleMetricAsString('fragment_near_cache_reads_total'),
        )?.[1] ?? 0,
      );
    const nearCache = gateway.app.get(FragmentNearCache);
    for (let i = 0; i < 500 && !nearCache.active; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(nearCache.active).toBe(true);
    let first = await get(userId, 2000);
    for (let i = 0; i < 20 && first.body.status !== 'ready'; i++) first = await get(userId, 2000);
    expect(first.body.status).toBe('ready');
    // The read that finds it ready keeps it (a copy found pending was not read fresh).
    await get(userId);
    const before = await hits();
    const again = await Promise.all(Array.from({ length: 5 }, () => get(userId)));
    expect(again.map((r) => [r.status, r.body.status, r.body.builtAt])).toEqual(
      again.map(() => [200, 'ready', first.body.builtAt]),
    );
    expect((await hits()) - before).toBe(5);
    const release = builds.hold();
    try {
      const target = gateway.app.get(FragmentResolver).target(profile, { userId: String(userId) }, { viewerId: 1 });
      await gateway.app.get(FragmentInvalidator).invalidate([target]);
      // Redis' invalidation message travels beside the write's reply: within moments, never a ready copy again.
      let after = await get(userId);
      for (let i = 0; i < 20 && after.body.status === 'ready'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        after = await get(userId);
      }
      expect([after.status, after.body.status, after.body.builtAt]).toEqual([200, 'stale', first.body.builtAt]);
      expect((await get(userId)).body.status).toBe('stale');
    } finally {
      release();
    }
  });

  it('counts pages from its near cache against a limit two gateways share, taking hits ahead, never past it', async () => {
    const limit = 1280; // 20 hits ahead at most per count (1/64 of the limit)
    const shared = { REDIS_KEY_PREFIX: gateway.keyPrefix, BULL_PREFIX: `${gateway.keyPrefix}bull` };
    const env = { ...shared, RATE_LIMIT_PER_MINUTE: String(limit) };
    const replicas = [
      await GatewayTestApp.start({ database: gateway.database, env }),
      await GatewayTestApp.start({ database: gateway.database, env }),
    ];
    try {
      for (const replica of replicas) {
        const nearCache = replica.app.get(FragmentNearCache);
        for (let i = 0; i < 500 && !nearCache.active; i++) await new Promise((resolve) => setTimeout(resolve, 10));
        expect(nearCache.active).toBe(true);
      }
      const viewer = 2;
      const url = '/api/fragments/profile?userId=10';
      const ask = (replica: GatewayTestApp) =>
        replica.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${replica.token(viewer)}` } });
      expect(
        (
          await replicas[0]!.app.inject({
            method: 'GET',
            url: `${url}&waitMs=2000`,
            headers: { authorization: `Bearer ${replicas[0]!.token(viewer)}` },
          })
        ).statusCode,
      ).toBe(200);
      const hitsKey = `${gateway.keyPrefix}ratelimit:{u${viewer}}:api:default:hits`;
      // One gateway alone: Redis holds more hits than it answered, the ones it took ahead.
      const remaining: number[] = [];
      for (let i = 0; i < 99; i++) {
        const answer = await ask(replicas[0]!);
        expect(answer.statusCode).toBe(200);
        remaining.push(Number(answer.headers['x-ratelimit-remaining']));
      }
      expect(remaining).toEqual(remaining.map((_, i) => limit - 2 - i));
      expect(Number(await gateway.redis.get(hitsKey))).toBeGreaterThan(100);
      // Both, in turn, until refused: never past the limit, and few hits lost to what each holds.
      let admitted = 100;
      let first429 = 0;
      for (let i = 0; i < limit && first429 === 0; i++) {
        const answer = await ask(replicas[i % 2]!);
        if (answer.statusCode === 200) admitted++;
        else {
          expect(answer.statusCode).toBe(429);
          first429 = admitted;
        }
      }
      expect(first429).toBeGreaterThan(0);
      expect(admitted).toBeLessThanOrEqual(limit);
      expect(admitted).toBeGreaterThanOrEqual(limit - 2 * 19);
      expect((await ask(replicas[0]!)).statusCode).toBe(429);
    } finally {
      for (const replica of replicas) await replica.close();
    }
  }, 60_000);

  it('answers a failed build 502 with Retry-After and a message that tells nothing of the internals', async () => {
    const userId = 9;
    builds.failing.add(userId);
    let answer = await get(userId);
    expect(answer.status).toBe(202);
    // Every attempt fails (5, with backoff), then the copy is failed for its ttl.
    for (let i = 0; i < 60 && answer.status !== 502; i++) answer = await get(userId, 2000);
    expect(answer.status).toBe(502);
    expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(answer.body).toMatchObject({ status: 'failed', errorCode: 'build_failed' });
    expect(answer.body.error).toMatch(/^build failed after \d+ attempts$/);
    expect(JSON.stringify(answer.body)).not.toContain('database');
    expect(builds.counts.get(userId)).toBe(profile.attempts);
  }, 90_000);
});
