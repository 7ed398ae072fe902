import { performance } from 'node:perf_hooks';
import { Cluster, Redis } from 'ioredis';
import { createRedisClient, type RedisClient, type RedisEndpoint } from './redis-clients';
import { LocalRedisCluster } from './testing/local-redis-cluster';
import { FragmentNearCache, NEAR_CACHE_MARK_MS } from './fragment-near-cache';
import type { FragmentModuleOptions } from './fragment-options';
import { renderFragmentJson } from './fragment-state';
import { LocalRedisSentinel, SENTINEL_MASTER_NAME } from './testing/local-redis-sentinel';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueTestPrefix } from './testing/redis-test-prefix';

/**
 * The near cache's clock for every read and lookup of these tests: fixed, so a copy is never due
 * for its read mark (5 s) while a test waits, and only an invalidation or a fault can drop it.
 */
const T0 = performance.now();

const until = async (what: string, condition: () => boolean, ms = 5000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

/** A tracked read of `key` through `cache` (as the resolve script's HMGET would be), kept with `freshMs`. */
async function readAndKeep(cache: FragmentNearCache, key: string, freshMs = 60_000, now = T0): Promise<void> {
  const ticket = cache.begin([key], now);
  if (!ticket) throw new Error('near cache not active');
  try {
    const [data] = await ticket.reader.hmget(key, 'd');
    cache.keep(ticket, key, { dataJson: data ?? 'null', builtAt: 'b', dataGeneration: 7, freshMs });
  } finally {
    cache.end(ticket);
  }
}

/** A near cache of 1 MiB on `endpoint`; `engine` stands for the engine's own connection (a Cluster's slot map). */
function nearCacheOn(endpoint: RedisEndpoint, connectionName: string, engine: RedisClient): FragmentNearCache {
  return new FragmentNearCache(
    {
      redis: { cache: endpoint, queue: endpoint },
      keyPrefix: 'near:',
      bullPrefix: 'bull',
      connectionName,
      nearCacheBytes: 1 << 20,
    },
    engine,
  );
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
    // Room for three small copies (kept as `{"status":"ready","data":null,"builtAt":"b"}`: 300
    // bytes each with the entry's overhead).
    nearCacheBytes: 1000,
  };
  const cache = new FragmentNearCache(options, redis);
  let n = 0;
  const newKey = (): string => `${prefix}frag:{u${++n}}:k`;

  const killClient = async (connectionName: string): Promise<void> => {
    const list = String(await redis.call('CLIENT', 'LIST'));
    const id = list
      .split('\n')
      .find((line) => line.includes(` name=${connectionName} `))
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
    expect(cache.lookup([key], T0)).toEqual([expect.objectContaining({ dataJson: '"one"', dataGeneration: 7 })]);
    await redis.hset(key, 'x', '0');
    await until('the invalidation', () => cache.lookup([key], T0) === undefined);
  });

  it('keeps a copy as the bytes a client gets, its data decoded from them', async () => {
    const key = newKey();
    const data = '{"name":"Zoë ✓","n":[1,2]}';
    await redis.hset(key, 'd', data);
    await readAndKeep(cache, key);
    const [copy] = cache.lookup([key], T0) ?? [];
    expect(copy?.json.toString()).toBe(renderFragmentJson({ status: 'ready', dataJson: data, builtAt: 'b' }));
    expect(copy?.dataJson).toBe(data);
  });

  it('does not keep a reply when the key was invalidated while the read was in flight', async () => {
    const key = newKey();
    await redis.hset(key, 'd', '"one"');
    const ticket = cache.begin([key], T0)!;
    const [data] = await ticket.reader.hmget(key, 'd');
    // The invalidation connection can deliver a later write's message before this reply is used.
    cache.invalidate([Buffer.from(key)]);
    cache.keep(ticket, key, { dataJson: data!, freshMs: 60_000 });
    cache.end(ticket);
    expect(cache.lookup([key], T0)).toBeUndefined();
    // Another key of the same read is unaffected, and the next read is kept.
    await readAndKeep(cache, key);
    expect(cache.lookup([key], T0)).toBeDefined();
  });

  it('serves a page only when every copy is kept, fresh and not due for a read mark', async () => {
    const [a, b] = [newKey(), newKey()];
    const now = T0;
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
    expect(cache.lookup([keys[0]], T0)).toBeUndefined();
    expect(cache.lookup(keys.slice(1), T0)).toHaveLength(3);
    const inFlight = cache.begin([keys[0]], T0)!;
    cache.invalidate(null);
    expect(cache.size).toBe(0);
    cache.keep(inFlight, keys[0], { dataJson: 'null', freshMs: 60_000 });
    cache.end(inFlight);
    expect(cache.size).toBe(0);
  });

  it("keeps page bodies within a budget as large as the copies', each going with its first copy", async () => {
    const keys = [newKey(), newKey()];
    for (const key of keys) await readAndKeep(cache, key);
    const [a, b] = cache.lookup(keys, T0) ?? [];
    const body = (n: number) => Buffer.alloc(n, 'x');
    cache.keepBody([a!.json, b!.json], body(400));
    expect(cache.bodyOf([a!.json, b!.json])?.length).toBe(400);
    expect(cache.bodyOf([a!.json])).toBeUndefined();
    expect(cache.bodyOf([b!.json, a!.json])).toBeUndefined();
    cache.keepBody([b!.json], body(400));
    // Over the budget (1000 bytes): the oldest body goes first.
    cache.keepBody([Buffer.from('other')], body(400));
    expect(cache.bodyOf([a!.json, b!.json])).toBeUndefined();
    expect(cache.bodyOf([b!.json])).toBeDefined();
    expect(cache.bodySizeBytes).toBe(800);
    cache.keepBody([Buffer.from('too big')], body(1001));
    expect(cache.bodySizeBytes).toBe(800);
    // An invalidation of its first copy drops the body with the copy.
    cache.invalidate([Buffer.from(keys[1])]);
    expect(cache.bodyOf([b!.json])).toBeUndefined();
    expect(cache.bodySizeBytes).toBe(400);
    cache.invalidate(null);
    expect(cache.bodySizeBytes).toBe(0);
  });

  it.each([
    ['the tracked connection', (found: string) => found === `${name}:near-cache`],
    ['the invalidation connection', (found: string) => found.startsWith(`${name}:near-cache-invalidations-`)],
  ])('drops everything when %s is killed, then tracks again once it is back', async (_, named) => {
    const key = newKey();
    await readAndKeep(cache, key);
    const stale = cache.begin([key], T0)!;
    const full = String(await redis.call('CLIENT', 'LIST'))
      .split('\n')
      .map((line) => / name=(\S+)/.exec(line)?.[1])
      .find((found) => found !== undefined && named(found));
    await killClient(full!);
    await until('the cache to drop', () => !cache.active);
    expect(cache.size).toBe(0);
    await until('the cache to arm again', () => cache.active);
    // A read sent before the fault is never kept.
    cache.keep(stale, key, { dataJson: 'null', freshMs: 60_000 });
    cache.end(stale);
    expect(cache.lookup([key], T0)).toBeUndefined();
    // Tracking is on again, redirected to the (new) invalidation connection.
    await readAndKeep(cache, key);
    expect(cache.lookup([key], T0)).toBeDefined();
    await redis.hset(key, 'd', '"two"');
    await until('the invalidation after the reconnect', () => cache.lookup([key], T0) === undefined);
  });
});

describe('FragmentNearCache on a Sentinel-managed Redis', () => {
  let sentinel: LocalRedisSentinel;
  let cache: FragmentNearCache;

  beforeAll(async () => {
    sentinel = await LocalRedisSentinel.start();
    const endpoint = { kind: 'sentinel', sentinels: sentinel.sentinels, name: SENTINEL_MASTER_NAME, auth: {} } as const;
    cache = nearCacheOn(endpoint, 'near-sentinel', new Redis({ lazyConnect: true }));
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
    expect(cache.lookup(['near:{u1}:k'], T0)).toBeDefined();

    await sentinel.kill(sentinel.masterPort);
    await until('the cache to drop', () => !cache.active);
    expect(cache.size).toBe(0);
    await sentinel.waitForMaster(sentinel.replicaPort);
    await until('the cache to arm on the new master', () => cache.active, 30_000);

    const promoted = new Redis({ port: sentinel.replicaPort, lazyConnect: true });
    await promoted.connect();
    try {
      await readAndKeep(cache, 'near:{u1}:k');
      expect(cache.lookup(['near:{u1}:k'], T0)).toEqual([expect.objectContaining({ dataJson: '"one"' })]);
      await promoted.hset('near:{u1}:k', 'd', '"two"');
      await until('the invalidation from the new master', () => cache.lookup(['near:{u1}:k'], T0) === undefined);
    } finally {
      promoted.disconnect();
    }
  }, 60_000);
});

describe('FragmentNearCache on a Redis Cluster of 3 masters', () => {
  let cluster: LocalRedisCluster;
  let client: Cluster;
  let cache: FragmentNearCache;

  beforeAll(async () => {
    cluster = await LocalRedisCluster.start();
    const endpoint = { kind: 'cluster', nodes: cluster.seeds, auth: {} } as const;
    // The engine's own Cluster connection: the near cache follows its slot map.
    client = createRedisClient(endpoint, 'near-cluster', 'command') as Cluster;
    await client.connect();
    cache = nearCacheOn(endpoint, 'near-cluster', client);
    await cache.onModuleInit();
    await until('a lane per master to arm', () => cache.active, 10_000);
  }, 60_000);

  afterAll(async () => {
    cache?.onApplicationShutdown();
    client?.disconnect();
    await cluster?.stop();
  });

  it('tracks each key on the master of its slot, and reads on the right master', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `near:{u${i}}:k`);
    expect(new Set(await Promise.all(keys.map((key) => cluster.masterOf(key)))).size).toBe(3);
    for (const key of keys) await client.hset(key, 'd', '"one"');
    for (const key of keys) await readAndKeep(cache, key);
    expect(cache.lookup(keys, T0)).toEqual(keys.map(() => expect.objectContaining({ dataJson: '"one"' })));
    // A key and a counter of another slot are not one read on one master.
    expect(cache.begin([keys[0]!], T0, ['near:{other}:hits'])).toBeUndefined();
    for (const key of keys) await client.hset(key, 'd', '"two"');
    await until('every master to invalidate', () => keys.every((key) => !cache.lookup([key], T0)));
  });

  it('drops everything when a master fails over, and tracks the promoted replica', async () => {
    const key = 'near:{u1}:k';
    await client.hset(key, 'd', '"three"');
    await readAndKeep(cache, key);
    expect(cache.lookup([key], T0)).toBeDefined();
    await cluster.kill(await cluster.masterOf(key));
    await until('the cache to drop', () => cache.size === 0 && !cache.active);
    await cluster.waitHealthy();
    await until('a lane per master to arm again', () => cache.active, 30_000);
    let kept = false;
    for (let tries = 0; !kept && tries < 100; tries++) {
      // The promoted replica may not have the write the dead master took (asynchronous replication).
      await client.hset(key, 'd', '"four"').catch(() => undefined);
      await readAndKeep(cache, key).catch(() => undefined);
      kept = cache.lookup([key], T0)?.[0]?.dataJson === '"four"';
      if (!kept) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(kept).toBe(true);
    await client.hset(key, 'd', '"five"');
    await until('the promoted master to invalidate', () => cache.lookup([key], T0) === undefined);
  }, 90_000);
});
