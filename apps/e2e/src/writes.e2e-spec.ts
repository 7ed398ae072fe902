import { PGBOUNCER_BY_DEFAULT, Stack } from './support/stack';

type Post = { id: string; body: string; author: { id: number } };
type F<D> = { status: string; data?: D; builtAt?: string };

describe('writes keep fragments fresh, durably (gateway, invalidation worker and builders as processes)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ users: 600 });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function send(
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
    raw?: string,
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
    return fetch(`${stack.url()}${path}`, {
      method,
      headers,
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
  }

  async function fragment<D>(name: string, token: string): Promise<F<D>> {
    const response = await stack.get(`/api/fragments/${name}?waitMs=2000`, token);
    return (await response.json()) as F<D>;
  }

  /** Polls (with waitMs) until `check` holds; returns how long it took. */
  async function eventually(check: () => Promise<boolean>, ms = 15_000): Promise<number> {
    const started = Date.now();
    while (!(await check())) {
      if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return Date.now() - started;
  }

  const counts = async () =>
    (
      await stack.query<{ posts: string; follows: string; likes: string; outbox: string }>(
        `SELECT (SELECT count(*) FROM posts) AS posts, (SELECT count(*) FROM follows) AS follows,
                (SELECT count(*) FROM likes) AS likes, (SELECT count(*) FROM outbox) AS outbox`,
      )
    )[0];

  it('shows a new post in a follower’s feed within seconds, long before the feed’s 30 s ttl', async () => {
    const [follower, author] = [await stack.login(101), await stack.login(102)];
    expect([200, 201]).toContain((await send('POST', '/api/follows', follower, { userId: 102 })).status);
    // The follower looks at their feed: it is cached, and counts as looked at.
    await eventually(async () => (await fragment<{ posts: Post[] }>('feed', follower)).status === 'ready');
    const body = `fresh post ${Date.now()}`;
    const created = await send('POST', '/api/posts', author, { body: `  ${body}  ` });
    expect(created.status).toBe(201);
    const post = (await created.json()) as { id: string; body: string; authorId: number };
    expect(post).toMatchObject({ body, authorId: 102 });
    const first = await fragment<{ posts: Post[] }>('feed', follower);
    expect(['ready', 'stale']).toContain(first.status); // served while it rebuilds, never pending
    const ms = await eventually(async () =>
      ((await fragment<{ posts: Post[] }>('feed', follower)).data?.posts ?? []).some((p) => p.id === post.id),
    );
    console.log(`post visible in the follower's feed after ${ms} ms`);
    const profile = await fragment<{ counts: { posts: number } }>('profile', author);
    const [{ n }] = await stack.query<{ n: number }>('SELECT count(*)::int AS n FROM posts WHERE author_id = 102');
    await eventually(
      async () => (await fragment<{ counts: { posts: number } }>('profile', author)).data?.counts.posts === n,
    );
    expect(profile.status).not.toBe('pending');
  });

  it('keeps an unfollowed author out of the feed', async () => {
    const [follower, author] = [await stack.login(111), await stack.login(112)];
    await send('POST', '/api/follows', follower, { userId: 112 });
    const before = (await send('POST', '/api/posts', author, { body: 'while followed' })).json() as Promise<{
      id: string;
    }>;
    const { id: followedPost } = await before;
    await eventually(async () =>
      ((await fragment<{ posts: Post[] }>('feed', follower)).data?.posts ?? []).some((p) => p.id === followedPost),
    );
    expect((await send('DELETE', '/api/follows/112', follower)).status).toBe(204);
    await eventually(async () =>
      ((await fragment<{ posts: Post[] }>('feed', follower)).data?.posts ?? []).every((p) => p.author.id !== 112),
    );
    const { id: laterPost } = (await (
      await send('POST', '/api/posts', author, { body: 'after the unfollow' })
    ).json()) as { id: string };
    for (let i = 0; i < 5; i++) {
      const posts = (await fragment<{ posts: Post[] }>('feed', follower)).data?.posts ?? [];
      expect(posts.some((p) => p.id === laterPost || p.author.id === 112)).toBe(false);
      await new Promise((r) => setTimeout(r, 300));
    }
  });

  it('takes a liked item out of the liker’s recommendations', async () => {
    const viewer = await stack.login(121);
    let items: Array<{ id: number }> = [];
    await eventually(async () => {
      const f = await fragment<{ items: Array<{ id: number }> }>('recommendations', viewer);
      items = f.data?.items ?? [];
      return f.status === 'ready' && items.length > 0;
    });
    const liked = items[0]!.id;
    expect((await send('POST', `/api/items/${liked}/likes`, viewer)).status).toBe(201);
    const ms = await eventually(async () => {
      const f = await fragment<{ items: Array<{ id: number }> }>('recommendations', viewer);
      return f.status === 'ready' && !(f.data?.items ?? []).some((i) => i.id === liked);
    });
    console.log(`liked item left the recommendations after ${ms} ms`);
    expect((await send('DELETE', `/api/items/${liked}/likes`, viewer)).status).toBe(204);
  });

  it('keeps a profile served and current through a storm of follows and unfollows', async () => {
    const target = 150;
    const stormMs = Number(process.env['E2E_STORM_MS'] ?? 10_000);
    const followers = await Promise.all(Array.from({ length: 200 }, (_, i) => stack.login(400 + i)));
    const watcher = await stack.login(399);
    type Profile = { counts: { followers: number } };
    const served = async () =>
      (await (await stack.get(`/api/fragments/profile?userId=${target}&waitMs=2000`, watcher)).json()) as F<Profile>;
    await eventually(async () => (await served()).status === 'ready');
    const stop = Date.now() + stormMs;
    let writes = 0;
    // Twenty writers toggle random followers' follows as fast as the gateway takes them.
    const storm = Array.from({ length: 20 }, async () => {
      while (Date.now() < stop) {
        const follower = followers[Math.floor(Math.random() * followers.length)]!;
        const response =
          Math.random() < 0.5
            ? await send('POST', '/api/follows', follower, { userId: target })
            : await send('DELETE', `/api/follows/${target}`, follower);
        // A follower past its write budget is told so (429) and tries another time.
        expect([200, 201, 204, 429]).toContain(response.status);
        if (response.status !== 429) writes++;
      }
    });
    // Meanwhile a reader keeps asking: the profile is always served (ready, or stale while it
    // rebuilds), never pending or failed, and how old the served copy gets is recorded.
    const statuses = new Set<string>();
    let oldestMs = 0;
    while (Date.now() < stop) {
      const copy = await served();
      statuses.add(copy.status);
      if (copy.builtAt) oldestMs = Math.max(oldestMs, Date.now() - Date.parse(copy.builtAt));
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(storm);
    const [{ n }] = await stack.query<{ n: number }>('SELECT count(*)::int AS n FROM follows WHERE followee_id = $1', [
      target,
    ]);
    const settledMs = await eventually(async () => {
      const copy = await served();
      return copy.status === 'ready' && copy.data?.counts.followers === n;
    });
    console.log(
      `follow storm: ${writes} writes in ${stormMs} ms (${Math.round((writes * 1000) / stormMs)}/s); served ${[...statuses].join(', ')}; oldest copy served ${oldestMs} ms; ready with ${n} followers ${settledMs} ms after the storm`,
    );
    expect([...statuses].every((s) => s === 'ready' || s === 'stale')).toBe(true);
    expect(writes).toBeGreaterThan(100);
  }, 60_000);

  it('makes concurrent repeats idempotent: one row, one invalidation', async () => {
    const viewer = await stack.login(131);
    // Start from "not following, not liking" whatever the seed made.
    await send('DELETE', '/api/follows/132', viewer);
    await send('DELETE', '/api/items/7/likes', viewer);
    const before = await counts();
    const follows = await Promise.all(
      Array.from({ length: 20 }, () => send('POST', '/api/follows', viewer, { userId: 132 })),
    );
    const likes = await Promise.all(Array.from({ length: 20 }, () => send('POST', '/api/items/7/likes', viewer)));
    for (const responses of [follows, likes]) {
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    }
    const after = await counts();
    expect(Number(after.follows) - Number(before.follows)).toBe(1);
    expect(Number(after.likes) - Number(before.likes)).toBe(1);
    expect(Number(after.outbox) - Number(before.outbox)).toBe(2);
    const unfollows = await Promise.all(Array.from({ length: 10 }, () => send('DELETE', '/api/follows/132', viewer)));
    expect(unfollows.every((r) => r.status === 204)).toBe(true);
    expect(Number((await counts()).outbox) - Number(after.outbox)).toBe(1);
  });

  it('answers every bad write with a clear 4xx and leaves no row and no invalidation behind', async () => {
    const token = await stack.login(141);
    const before = await counts();
    const cases: Array<[string, string, string, string | undefined, unknown, string | undefined, number, RegExp]> = [
      ['empty body', 'POST', '/api/posts', token, { body: '   ' }, undefined, 400, /must not be empty/],
      ['oversized body', 'POST', '/api/posts', token, { body: 'x'.repeat(5001) }, undefined, 400, /at most 5000/],
      ['non-string body', 'POST', '/api/posts', token, { body: 42 }, undefined, 400, /must be a string/],
      ['no body field', 'POST', '/api/posts', token, {}, undefined, 400, /must be a string/],
      ['an array', 'POST', '/api/posts', token, [], undefined, 400, /JSON object/],
      [
        'an extra field',
        'POST',
        '/api/posts',
        token,
        { body: 'hi', authorId: 1 },
        undefined,
        400,
        /unknown field "authorId"/,
      ],
      ['malformed JSON', 'POST', '/api/posts', token, undefined, '{"body": ', 400, /JSON/],
      ['no token', 'POST', '/api/posts', undefined, { body: 'hi' }, undefined, 401, /Authorization/],
      ['unknown user', 'POST', '/api/follows', token, { userId: 999999 }, undefined, 404, /user 999999 not found/],
      ['self-follow', 'POST', '/api/follows', token, { userId: 141 }, undefined, 400, /cannot follow yourself/],
      ['string user id', 'POST', '/api/follows', token, { userId: '5' }, undefined, 400, /userId must be a number/],
      ['non-numeric path id', 'DELETE', '/api/follows/abc', token, undefined, undefined, 400, /"userId"/],
      [
        'unknown user to unfollow',
        'DELETE',
        '/api/follows/999999',
        token,
        undefined,
        undefined,
        404,
        /user 999999 not found/,
      ],
      ['unknown item', 'POST', '/api/items/999999/likes', token, undefined, undefined, 404, /item 999999 not found/],
      ['negative item id', 'POST', '/api/items/-3/likes', token, undefined, undefined, 400, /"id"/],
      [
        'unknown item to unlike',
        'DELETE',
        '/api/items/999999/likes',
        token,
        undefined,
        undefined,
        404,
        /item 999999 not found/,
      ],
    ];
    for (const [name, method, path, auth, body, raw, status, message] of cases) {
      const response = await send(method, path, auth, body, raw);
      const text = await response.text();
      const got = (JSON.parse(text) as { message?: string }).message ?? text;
      expect({ name, status: response.status, message: got }).toEqual({
        name,
        status,
        message: expect.stringMatching(message),
      });
    }
    expect(await counts()).toEqual(before);
  });

  // E2E_PGBOUNCER=0 runs the suite with direct connections instead.
  (PGBOUNCER_BY_DEFAULT ? it : it.skip)(
    'ran the writes and the builds through PgBouncer in transaction mode',
    async () => {
      expect(stack.appDatabaseUrl).not.toBe(stack.databaseUrl);
      expect(await stack.pgbouncer!.transactions(stack.databaseName)).toBeGreaterThan(50);
    },
  );
});
