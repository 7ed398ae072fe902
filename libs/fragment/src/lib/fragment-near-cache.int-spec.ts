import { Redis } from 'ioredis';
import { FragmentNearCache, NEAR_CACHE_MARK_MS } from './fragment-near-cache';
import type { FragmentModuleOptions } from './fragment-options';
import { LocalRedisSentinel, SENTINEL_MASTER_NAME } from './testing/local-redis-sentinel';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueTestPrefix } from './testing/redis-test-prefix';

const until = async (what: string, condition: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** A tracked read of `key` through `cache` (as the resolve script's HMGET would be), kept with `freshMs`. */
async function readAndKeep(cache: FragmentNearCache, key: string, freshMs = 60_000, now = Date.now()): Promise<void> {
  const ticket = cache.begin([key], now);
  if (!ticket) throw new Error('near cache not active');
  try {
    const [data] = await ticket.reader.hmget(key, 'd');
    cache.keep(ticket, key, { dataJson: data ?? 'null', builtAt: 'b', dataGeneration: 7, freshMs });
  } finally {
    cache.end(ticket);
  }
}

/**
 * The near cache against real Redis: invalidations come from Redis' own tracking, and connections
 * are killed with CLIENT KILL, as a restart or a network fault would.
 */
describe('FragmentNearCache (real Redis)', () => {
  const prefix = uniqueTestPrefix('near');
  const redis = new Redis(TEST_REDIS_URL);
  const name = `${prefix}gw`.replace(/[^A-Za-z0-9:_-]/g, '_');
  const options: FragmentModuleOptions = {
    redis: { cache: { kind: 'single', url: TEST_REDIS_URL }, queue: { kind: 'single', url: TEST_REDIS_URL } },
    keyPrefix: prefix,
    bullPrefix: 'bull',
    connectionName: name,
    nearCacheEntries: 3,
  };
  const cache = new FragmentNearCache(options);
  let n = 0;
  const newKey = (): string => `${prefix}frag:{u${++n}}:k`;

  const killClient = async (connectionName: string): Promise<void> => {
    const list = String(await redis.call('CLIENT', 'LIST'));
    const id = list
      .split('\n')
      .find((line) => line.includes(` name=${connectionName}`))
      ?.match(/^id=(\d+)/)?.[1];
    if (!id) throw new Error(`no client named ${connectionName}`);
    await redis.call('CLIENT', 'KILL', 'ID', id);
  };

  beforeAll(async () => {
    await cache.onModuleInit();
    await until('the near cache to arm', () => cache.active);
  });

  afterAll(async () => {
    cache.onApplicationShutdown();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  });

  it('serves a tracked read until another client writes the key', async () => {
    const key = newKey();
    await redis.hset(key, 'd', '"one"');
    await readAndKeep(cache, key);
    expect(cache.lookup([key], Date.now())).toEqual([
      expect.objectContaining({ dataJson: '"one"', dataGeneration: 7 }),
    ]);
    await redis.hset(key, 'x', '0');
    await until('the invalidation', () => cache.lookup([key], Date.now()) === undefined);
  });

  it('does not keep a reply when the key was invalidated while the read was in flight', async () => {
    const key = newKey();
    await redis.hset(key, 'd', '"one"');
    const ticket = cache.begin([key], Date.now())!;
    const [data] = await ticket.reader.hmget(key, 'd');
    // The invalidation connection can deliver a later write's message before this reply is used.
    cache.invalidate([Buffer.from(key)]);
    cache.keep(ticket, key, { dataJson: data!, freshMs: 60_000 });
    cache.end(ticket);
    expect(cache.lookup([key], Date.now())).toBeUndefined();
    // Another key of the same read is unaffected, and the next read is kept.
    await readAndKeep(cache, key);
    expect(cache.lookup([key], Date.now())).toBeDefined();
  });

  it('serves a page only when every copy is kept, fresh and not due for a read mark', async () => {
    const [a, b] = [newKey(), newKey()];
    const now = Date.now();
    await readAndKeep(cache, a, 1000, now);
    expect(cache.lookup([a, b], now)).toBeUndefined();
    await readAndKeep(cache, b, 60_000, now);
    expect(cache.lookup([a, b], now)).toHaveLength(2);
    expect(cache.lookup([a, b], now + 1000)).toBeUndefined();
    expect(cache.lookup([b], now + NEAR_CACHE_MARK_MS - 1)).toBeDefined();
    expect(cache.lookup([b], now + NEAR_CACHE_MARK_MS)).toBeUndefined();
  });

  it('keeps at most its maximum, dropping the oldest; a flush message drops everything', async () => {
    const keys = [newKey(), newKey(), newKey(), newKey()];
    for (const key of keys) await readAndKeep(cache, key);
    expect(cache.size).toBe(3);
    expect(cache.lookup([keys[0]], Date.now())).toBeUndefined();
    expect(cache.lookup(keys.slice(1), Date.now())).toHaveLength(3);
    const inFlight = cache.begin([keys[0]], Date.now())!;
    cache.invalidate(null);
    expect(cache.size).toBe(0);
    cache.keep(inFlight, keys[0], { dataJson: 'null', freshMs: 60_000 });
    cache.end(inFlight);
    expect(cache.size).toBe(0);
  });

  it.each([
    ['the tracked connection', `${name}:near-cache`],
    ['the invalidation connection', `${name}:near-cache-invalidations-`],
  ])('drops everything when %s is killed, then tracks again once it is back', async (_, connectionName) => {
    const key = newKey();
    await readAndKeep(cache, key);
    const stale = cache.begin([key], Date.now())!;
    const full = String(await redis.call('CLIENT', 'LIST'))
      .split('\n')
      .map((line) => / name=(\S+)/.exec(line)?.[1])
      .find((found) => found === connectionName || found?.startsWith(connectionName));
    await killClient(full!);
    await until('the cache to drop', () => !cache.active);
    expect(cache.size).toBe(0);
    await until('the cache to arm again', () => cache.active);
    // A read sent before the fault is never kept.
    cache.keep(stale, key, { dataJson: 'null', freshMs: 60_000 });
    cache.end(stale);
    expect(cache.lookup([key], Date.now())).toBeUndefined();
    // Tracking is on again, redirected to the (new) invalidation connection.
    await readAndKeep(cache, key);
    expect(cache.lookup([key], Date.now())).toBeDefined();
    await redis.hset(key, 'd', '"two"');
    await until('the invalidation after the reconnect', () => cache.lookup([key], Date.now()) === undefined);
  });
});

describe('FragmentNearCache on a Sentinel-managed Redis', () => {
  let sentinel: LocalRedisSentinel;
  let cache: FragmentNearCache;

  beforeAll(async () => {
    sentinel = await LocalRedisSentinel.start();
    const endpoint = { kind: 'sentinel', sentinels: sentinel.sentinels, name: SENTINEL_MASTER_NAME, auth: {} } as const;
    cache = new FragmentNearCache({
      redis: { cache: endpoint, queue: endpoint },
      keyPrefix: 'near:',
      bullPrefix: 'bull',
      connectionName: 'near-sentinel',
      nearCacheEntries: 100,
    });
    await cache.onModuleInit();
    await until('the near cache to arm', () => cache.active);
  }, 60_000);

  afterAll(async () => {
    cache?.onApplicationShutdown();
    await sentinel?.stop();
  });

  it('drops everything on a failover and tracks on the new master', async () => {
    const old = new Redis({ port: sentinel.masterPort, lazyConnect: true });
    await old.connect();
    await old.hset('near:{u1}:k', 'd', '"one"');
    // On the replica before the master dies (its first sync may still be under way).
    const replica = new Redis({ port: sentinel.replicaPort, lazyConnect: true });
    await replica.connect();
    for (let tries = 0; (await replica.hget('near:{u1}:k', 'd')) !== '"one"'; tries++) {
      if (tries > 200) throw new Error('the replica never got the copy');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    replica.disconnect();
    old.disconnect();
    await readAndKeep(cache, 'near:{u1}:k');
    expect(cache.lookup(['near:{u1}:k'], Date.now())).toBeDefined();

    await sentinel.kill(sentinel.masterPort);
    await until('the cache to drop', () => !cache.active);
    expect(cache.size).toBe(0);
    await sentinel.waitForMaster(sentinel.replicaPort);
    await until('the cache to arm on the new master', () => cache.active, 30_000);

    const promoted = new Redis({ port: sentinel.replicaPort, lazyConnect: true });
    await promoted.connect();
    try {
      await readAndKeep(cache, 'near:{u1}:k');
      expect(cache.lookup(['near:{u1}:k'], Date.now())).toEqual([expect.objectContaining({ dataJson: '"one"' })]);
      await promoted.hset('near:{u1}:k', 'd', '"two"');
      await until(
        'the invalidation from the new master',
        () => cache.lookup(['near:{u1}:k'], Date.now()) === undefined,
      );
    } finally {
      promoted.disconnect();
    }
  }, 60_000);
});
