import { Redis } from 'ioredis';
import { FRAGMENT_SETTLED_PATTERN } from './fragment-key';
import { FragmentStore } from './fragment-store';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueTestPrefix } from './testing/redis-test-prefix';

describe('FragmentStore (real Redis)', () => {
  const prefix = uniqueTestPrefix('store');
  const redis = new Redis(TEST_REDIS_URL);
  const store = new FragmentStore(redis);
  let n = 0;
  const newKey = (): string => `${prefix}frag:k${++n}`;
  const lease = (key: string, leaseMs = 30_000) => ({ key, leaseMs });
  const takeLease = async (key: string, leaseMs = 30_000): Promise<number> => {
    const [state] = await store.read([lease(key, leaseMs)], true);
    if (!state || state.takenGeneration === 0) throw new Error(`no lease taken for ${key}`);
    return state.takenGeneration;
  };

  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('leases a cold fragment exactly once and reports it pending', async () => {
    const key = newKey();
    const [first] = await store.read([lease(key)], true);
    const [second] = await store.read([lease(key)], true);
    expect(first).toMatchObject({ status: 'pending', takenGeneration: expect.any(Number) });
    expect(first!.takenGeneration).toBeGreaterThan(0);
    expect(second).toMatchObject({ status: 'pending', takenGeneration: 0 });
    expect(second!.waitMs).toBeGreaterThan(0);
  });

  it('takes no lease in read-only mode', async () => {
    const key = newKey();
    const [state] = await store.read([lease(key)], false);
    expect(state).toMatchObject({ status: 'pending', takenGeneration: 0 });
    expect(await redis.exists(key)).toBe(0);
  });

  it('serves a completed build as ready, clears the lease and announces it', async () => {
    const key = newKey();
    const sub = new Redis(TEST_REDIS_URL);
    const messages: string[] = [];
    await sub.subscribe(FRAGMENT_SETTLED_PATTERN);
    sub.on('message', (_c: string, m: string) => messages.push(m));
    const gen = await takeLease(key);
    expect(await store.claim(key, gen, 30_000, 'job-a')).toBe('claimed');
    expect(await store.complete(key, gen, '{"hello":1}', '2026-01-01T00:00:00.000Z', 60_000, 60_000)).toBe(true);
    const [state] = await store.read([lease(key)], true);
    expect(state).toMatchObject({
      status: 'ready',
      dataJson: '{"hello":1}',
      builtAt: '2026-01-01T00:00:00.000Z',
      takenGeneration: 0,
    });
    expect(await redis.hget(key, 'l')).toBeNull();
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
    await new Promise((r) => setTimeout(r, 50));
    // Nest's Redis transport envelope, with the generation as a string.
    expect(messages.map((m) => JSON.parse(m) as unknown)).toContainEqual({
      pattern: FRAGMENT_SETTLED_PATTERN,
      data: { status: 'ready', generation: String(gen), key },
    });
    await sub.quit();
  });

  it('never lets an older generation overwrite a newer result', async () => {
    const key = newKey();
    const oldGen = await takeLease(key, 1);
    await new Promise((r) => setTimeout(r, 5)); // the 1 ms lease expires: a second request leases again
    const newGen = await takeLease(key);
    expect(newGen).toBeGreaterThan(oldGen);
    expect(await store.complete(key, newGen, '"new"', 'b2', 60_000, 0)).toBe(true);
    expect(await store.complete(key, oldGen, '"old"', 'b1', 60_000, 0)).toBe(false);
    expect(await store.claim(key, oldGen, 30_000, 'job-a')).toBe('superseded');
    const [state] = await store.read([lease(key)], false);
    expect(state!.dataJson).toBe('"new"');
  });

  it('lets a superseded build skip its work', async () => {
    const key = newKey();
    const oldGen = await takeLease(key, 1);
    await new Promise((r) => setTimeout(r, 5));
    await store.read([lease(key)], true);
    expect(await store.claim(key, oldGen, 30_000, 'job-a')).toBe('superseded');
  });

  it('serves stale data while one rebuild is leased, then drops it after the stale window', async () => {
    const key = newKey();
    const gen = await takeLease(key);
    await store.complete(key, gen, '"v1"', 'b', 30, 150);
    await new Promise((r) => setTimeout(r, 60));
    const [stale] = await store.read([lease(key)], true);
    expect(stale).toMatchObject({ status: 'stale', dataJson: '"v1"' });
    expect(stale!.takenGeneration).toBeGreaterThan(gen);
    const [again] = await store.read([lease(key)], true);
    expect(again).toMatchObject({ status: 'stale', takenGeneration: 0 });
    await new Promise((r) => setTimeout(r, 200));
    const [gone] = await store.read([lease(key)], false);
    expect(gone).toMatchObject({ status: 'pending' });
    expect(gone!.dataJson).toBeUndefined();
  });

  it('keeps the lease across a retry and records a final failure briefly', async () => {
    const key = newKey();
    const gen = await takeLease(key);
    expect(await store.fail(key, gen, { message: 'boom', code: 'build_failed' }, false, 100, 30_000)).toBe('retrying');
    expect((await store.read([lease(key)], true))[0]).toMatchObject({ status: 'pending', takenGeneration: 0 });
    expect(await store.fail(key, gen, { message: 'user 9 not found', code: 'not_found' }, true, 100, 30_000)).toBe(
      'failed',
    );
    const [failed] = await store.read([lease(key)], true);
    expect(failed).toMatchObject({
      status: 'failed',
      error: 'user 9 not found',
      errorCode: 'not_found',
      takenGeneration: 0,
    });
    expect(failed!.waitMs).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 150));
    const [retried] = await store.read([lease(key)], true);
    expect(retried!.status).toBe('pending');
    expect(retried!.takenGeneration).toBeGreaterThan(gen);
  });

  it('lets a lease expire, so a crashed worker never leaves a fragment pending forever', async () => {
    const key = newKey();
    const [first] = await store.read([lease(key, 50)], true);
    expect(first!.takenGeneration).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 80));
    const [second] = await store.read([lease(key)], true);
    expect(second!.takenGeneration).toBeGreaterThan(first!.takenGeneration);
  });

  it('releases a lease whose job could not be enqueued', async () => {
    const key = newKey();
    const gen = await takeLease(key);
    expect(await store.release(key, gen + 1)).toBe(false);
    expect(await store.release(key, gen)).toBe(true);
    expect((await store.read([lease(key)], true))[0]!.takenGeneration).toBeGreaterThan(gen);
  });

  it('reads many fragments in one call, each with its own state', async () => {
    const [a, b, c] = [newKey(), newKey(), newKey()];
    const gen = await takeLease(a);
    await store.complete(a, gen, '1', 'b', 60_000, 0);
    await store.read([lease(b)], true);
    const states = await store.read([lease(a), lease(b), lease(c)], true);
    expect(states.map((s) => s.status)).toEqual(['ready', 'pending', 'pending']);
    expect(states.map((s) => s.takenGeneration > 0)).toEqual([false, false, true]);
  });

  it('lets only one job build a generation at a time, but lets that job claim again', async () => {
    const key = newKey();
    const gen = await takeLease(key);
    expect(await store.claim(key, gen, 30_000, 'job-i')).toBe('claimed');
    expect(await store.claim(key, gen, 30_000, 'job-b')).toBe('superseded');
    expect(await store.claim(key, gen, 30_000, 'job-i')).toBe('claimed');
  });

  it('turns a write into stale copies, discarding builds queued before it', async () => {
    const [cached, absent] = [newKey(), newKey()];
    const gen = await takeLease(cached);
    await store.complete(cached, gen, '"before"', 'b', 60_000, 60_000);
    // An old build of the same copy, queued before the write:
    await redis.hset(cached, 'l', gen + 1, 'lu', Date.now() + 30_000, 'n', gen + 1);
    const results = await store.invalidate([lease(cached), lease(absent)], 0);
    expect(results).toEqual([{ outcome: 'stale' }, { outcome: 'absent' }]);
    expect(await redis.exists(absent)).toBe(0);
    expect(await store.claim(cached, gen + 1, 30_000, 'old')).toBe('superseded');
    expect(await store.complete(cached, gen + 1, '"old"', 'b', 60_000, 60_000)).toBe(false);
    const [state] = await store.read([lease(cached)], true);
    expect(state).toMatchObject({ status: 'stale', dataJson: '"before"' });
    expect(state!.takenGeneration).toBeGreaterThan(gen + 1);
    expect(await store.complete(cached, state!.takenGeneration, '"after"', 'b', 60_000, 60_000)).toBe(true);
    expect((await store.read([lease(cached)], false))[0]).toMatchObject({ status: 'ready', dataJson: '"after"' });
  });

  it('rebuilds a copy read recently at once, in the background lane, and promotes it when someone asks', async () => {
    const key = newKey();
    const gen = await takeLease(key);
    await store.complete(key, gen, '"v1"', 'b', 60_000, 60_000);
    await store.read([lease(key)], true); // a client reads it: it is "active"
    const [result] = await store.invalidate([lease(key)], 60_000);
    expect(result).toMatchObject({ outcome: 'rebuild', generation: expect.any(Number) });
    const rebuildGen = (result as { generation: number }).generation;
    expect(await redis.hget(key, 'ln')).toBe('b');
    const [asked] = await store.read([lease(key)], true);
    expect(asked).toMatchObject({ status: 'stale', takenGeneration: rebuildGen, promoted: true });
    expect(await redis.hget(key, 'ln')).toBe('i');
    const [again] = await store.read([lease(key)], true);
    expect(again).toMatchObject({ takenGeneration: 0, promoted: false });
  });
});
