import { createHmac } from 'node:crypto';
import { freePort, startApp, waitForHttpOk } from './support/processes';
import { Stack } from './support/stack';

type F = {
  status: string;
  data?: unknown;
  builtAt?: string;
  retryAfterMs?: number;
  error?: string;
  errorCode?: string;
};
type Page = { page: string; fragments: Record<string, F> };

const FRAGMENTS = ['profile', 'feed', 'recommendations'];

describe('HTTP contract, with the gateway and three workers as separate processes', () => {
  let stack: Stack;
  let token: string;

  beforeAll(async () => {
    stack = await Stack.start({ users: 1000 });
    token = await stack.login(1);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function page(viewer: string, query = ''): Promise<Page> {
    const response = await stack.get(`/api/pages/dashboard${query}`, viewer);
    expect(response.status).toBe(200);
    return (await response.json()) as Page;
  }

  /** Asks with waitMs until every fragment is ready (bounded), returning the last page. */
  async function pageWhenReady(viewer: string): Promise<Page> {
    for (let i = 0; i < 15; i++) {
      const current = await page(viewer, '?waitMs=2000');
      if (Object.values(current.fragments).every((f) => f.status === 'ready')) return current;
    }
    throw new Error('dashboard never became ready');
  }

  it('answers a cold dashboard at once with pending fragments, which all become ready', async () => {
    const viewer = await stack.login(2);
    const cold = await page(viewer);
    expect(cold.page).toBe('dashboard');
    expect(Object.keys(cold.fragments)).toEqual(FRAGMENTS);
    for (const name of FRAGMENTS) {
      expect(cold.fragments[name]).toMatchObject({ status: 'pending', retryAfterMs: expect.any(Number) });
    }
    const ready = await pageWhenReady(viewer);
    const profile = ready.fragments['profile']!;
    expect(profile.data).toMatchObject({ user: { id: 2 }, counts: expect.any(Object) });
    expect(typeof profile.builtAt).toBe('string');
    expect((ready.fragments['feed']!.data as { posts: unknown[] }).posts.length).toBeGreaterThan(0);
    expect((ready.fragments['recommendations']!.data as { items: unknown[] }).items.length).toBeGreaterThan(0);
  });

  it('answers a warm dashboard from Redis alone: no build runs for it', async () => {
    const viewer = await stack.login(3);
    await pageWhenReady(viewer);
    const before = await Promise.all(
      FRAGMENTS.map((f) => stack.metric(`${f}-worker` as never, 'fragment_build_seconds_count', { fragment: f })),
    );
    for (let i = 0; i < 20; i++) {
      const warm = await page(viewer);
      expect(Object.values(warm.fragments).map((f) => f.status)).toEqual(['ready', 'ready', 'ready']);
    }
    const after = await Promise.all(
      FRAGMENTS.map((f) => stack.metric(`${f}-worker` as never, 'fragment_build_seconds_count', { fragment: f })),
    );
    expect(after).toEqual(before);
  });

  it('turns 300 concurrent requests for one cold fragment into exactly one build', async () => {
    const labels = { fragment: 'profile' };
    const enqueuesBefore = await stack.metric('gateway', 'fragment_enqueues_total', labels);
    const buildsBefore = await stack.metric('profile-worker', 'fragment_builds_total', { ...labels, outcome: 'built' });
    const responses = await Promise.all(
      Array.from({ length: 300 }, () => stack.get('/api/fragments/profile?userId=77', token)),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 202 || s === 200)).toBe(true);
    expect(statuses).toContain(202);
    const pending = responses.find((r) => r.status === 202)!;
    expect(Number(pending.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const ready = await stack.get('/api/fragments/profile?userId=77&waitMs=2000', token);
    expect(ready.status).toBe(200);
    expect(await stack.metric('gateway', 'fragment_enqueues_total', labels)).toBe(enqueuesBefore + 1);
    expect(await stack.metric('profile-worker', 'fragment_builds_total', { ...labels, outcome: 'built' })).toBe(
      buildsBefore + 1,
    );
  });

  it('never shows one viewer another viewer’s feed, whatever params are added', async () => {
    const [a, b] = [await stack.login(5), await stack.login(6)];
    const feedOf = async (viewer: string) => {
      const response = await stack.get('/api/fragments/feed?waitMs=2000', viewer);
      expect(response.status).toBe(200);
      return ((await response.json()) as { data: { posts: Array<{ author: { id: number } }> } }).data.posts;
    };
    const feedA = await feedOf(a);
    const feedB = await feedOf(b);
    const followees = async (userId: number) =>
      new Set(
        (
          await stack.query<{ id: number }>('SELECT followee_id AS id FROM follows WHERE follower_id = $1', [userId])
        ).map((r) => r.id),
      );
    const [followsA, followsB] = [await followees(5), await followees(6)];
    expect(feedA.every((p) => followsA.has(p.author.id))).toBe(true);
    expect(feedB.every((p) => followsB.has(p.author.id))).toBe(true);
    expect(feedA).not.toEqual(feedB);
    for (const query of ['?viewerId=6', '?userId=6', '?viewer=6', '?sub=6', '?__proto__=6', '?userId=6&userId=5']) {
      const response = await stack.get(`/api/fragments/feed${query}`, a);
      expect(response.status).toBe(400);
      expect(await response.text()).not.toContain('"posts"');
      const pageResponse = await stack.get(`/api/pages/dashboard${query}`, a);
      expect(pageResponse.status).toBe(400);
    }
  });

  it('never lists an item the viewer already likes among their recommendations', async () => {
    const viewer = await stack.login(8);
    const response = await stack.get('/api/fragments/recommendations?waitMs=2000', viewer);
    const items = ((await response.json()) as { data: { items: Array<{ id: number }> } }).data.items;
    const liked = new Set(
      (await stack.query<{ id: number }>('SELECT item_id AS id FROM likes WHERE user_id = 8')).map((r) => r.id),
    );
    expect(items.length).toBeGreaterThan(0);
    expect(items.some((item) => liked.has(item.id))).toBe(false);
  });

  it('ends a profile of a user who does not exist as 404, never pending forever', async () => {
    const response = await stack.get('/api/fragments/profile?userId=999999&waitMs=2000', token);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({
      status: 'failed',
      errorCode: 'not_found',
      error: 'user 999999 not found',
    });
  });

  it('answers bad input with a 4xx naming the problem, and changes nothing', async () => {
    const fragmentKeys = () => stack.keys('frag:*');
    const keysBefore = await fragmentKeys();
    const jobsBefore = await stack.jobCount();
    const enqueuesBefore = await Promise.all(
      FRAGMENTS.map((f) => stack.metric('gateway', 'fragment_enqueues_total', { fragment: f })),
    );
    const cases: Array<[string, RequestInit & { path: string }, number, RegExp]> = [
      ['no token', { path: '/api/pages/dashboard' }, 401, /missing Authorization/],
      [
        'a malformed header',
        { path: '/api/pages/dashboard', headers: { authorization: 'Token abc' } },
        401,
        /malformed Authorization/,
      ],
      [
        'a garbage token',
        { path: '/api/pages/dashboard', headers: { authorization: 'Bearer abc.def.ghi' } },
        401,
        /invalid token/,
      ],
      [
        'a token of another secret',
        { path: '/api/pages/dashboard', headers: { authorization: `Bearer ${forgedToken()}` } },
        401,
        /invalid token/,
      ],
      [
        'an unsigned token',
        { path: '/api/pages/dashboard', headers: { authorization: `Bearer ${unsignedToken()}` } },
        401,
        /invalid token/,
      ],
      ['a non-numeric id', { path: '/api/fragments/profile?userId=abc' }, 400, /"userId".*positive integer/],
      ['a negative id', { path: '/api/fragments/profile?userId=-5' }, 400, /"userId"/],
      ['a huge id', { path: '/api/fragments/profile?userId=99999999999999999999' }, 400, /"userId"/],
      ['an id with leading zeros', { path: '/api/fragments/profile?userId=007' }, 400, /"userId"/],
      ['an unknown fragment', { path: '/api/fragments/nope' }, 404, /unknown fragment "nope"/],
      ['an unknown page', { path: '/api/pages/nope' }, 404, /unknown page "nope"/],
      ['waitMs out of range', { path: '/api/pages/dashboard?waitMs=2001' }, 400, /"waitMs".*0 to 2000/],
      ['waitMs not a number', { path: '/api/fragments/feed?waitMs=soon' }, 400, /"waitMs"/],
      ['an unknown page param', { path: '/api/pages/dashboard?x=1' }, 400, /unknown parameter "x"/],
      [
        'malformed JSON',
        {
          path: '/api/auth/dev-login',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"userId":',
        },
        400,
        /JSON/,
      ],
      [
        'a string user id',
        {
          path: '/api/auth/dev-login',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"userId":"1"}',
        },
        400,
        /userId must be a number/,
      ],
      [
        'a zero user id',
        {
          path: '/api/auth/dev-login',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"userId":0}',
        },
        400,
        /userId/,
      ],
      [
        'an extra login field',
        {
          path: '/api/auth/dev-login',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"userId":1,"admin":true}',
        },
        400,
        /unknown field "admin"/,
      ],
    ];
    for (const [name, { path, ...init }, status, message] of cases) {
      // Only the API cases that are not about credentials carry a valid token.
      const withToken =
        path.startsWith('/api/') && !path.startsWith('/api/auth') && name !== 'no token' && !init.headers;
      const headers = {
        ...(withToken ? { authorization: `Bearer ${token}` } : {}),
        ...(init.headers as Record<string, string>),
      };
      const response = await fetch(`${stack.url()}${path}`, { ...init, headers });
      const text = await response.text();
      const body = (JSON.parse(text) as { message?: string }).message ?? text;
      expect({ name, status: response.status, body }).toEqual({ name, status, body: expect.stringMatching(message) });
    }
    expect(await fragmentKeys()).toEqual(keysBefore);
    expect(await stack.jobCount()).toBe(jobsBefore);
    const enqueuesAfter = await Promise.all(
      FRAGMENTS.map((f) => stack.metric('gateway', 'fragment_enqueues_total', { fragment: f })),
    );
    expect(enqueuesAfter).toEqual(enqueuesBefore);
  });

  it('serves health and metrics on every process', async () => {
    for (const name of [
      'gateway',
      'profile-worker',
      'feed-worker',
      'recommendations-worker',
      'invalidation-worker',
    ] as const) {
      expect((await stack.get('/health/live', undefined, name)).status).toBe(200);
      expect((await stack.get('/health/ready', undefined, name)).status).toBe(200);
      const metrics = await (await stack.get('/metrics', undefined, name)).text();
      expect(metrics).toContain('bull_queue_jobs{');
    }
    const gatewayMetrics = await (await stack.get('/metrics')).text();
    expect(gatewayMetrics).toContain('fragment_requests_total{');
    const workerMetrics = await (await stack.get('/metrics', undefined, 'feed-worker')).text();
    expect(workerMetrics).toContain('fragment_build_seconds_bucket{');
  });

  it('has no dev login in production, and refuses to start with it forced on', async () => {
    const port = await freePort();
    const env = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      REDIS_KEY_PREFIX: stack.keyPrefix,
      JWT_SECRET: 'p'.repeat(40),
    };
    const production = startApp('gateway', env);
    try {
      await waitForHttpOk(`http://127.0.0.1:${port}/health/ready`, production);
      const response = await fetch(`http://127.0.0.1:${port}/api/auth/dev-login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"userId":1}',
      });
      expect(response.status).toBe(404);
    } finally {
      await production.stop();
    }
    const forced = startApp('gateway', { ...env, DEV_LOGIN: 'true' });
    expect(await forced.waitForExit(15_000)).not.toBe(0);
    expect(forced.output.join('')).toContain('DEV_LOGIN cannot be enabled when NODE_ENV=production');
  });
});

function base64url(value: object | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A well-formed HS256 token signed with a secret the gateway does not know. */
function forgedToken(): string {
  const head = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url({ sub: '2', exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${head}.${createHmac('sha256', 'not-the-secret-0123456789abcdefghij').update(head).digest('base64url')}`;
}

/** `alg: none`: must never be accepted. */
function unsignedToken(): string {
  return `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: '2', exp: Math.floor(Date.now() / 1000) + 600 })}.`;
}
