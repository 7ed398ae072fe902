import { Redis } from 'ioredis';
import { LocalRedis } from './support/servers';
import { Stack } from './support/stack';

jest.setTimeout(600_000);

const VIEWERS = Number(process.env['E2E_EVICTION_VIEWERS'] ?? 2500);

interface Page {
  readonly fragments: Record<string, { status: string }>;
}

/** The value of one field of `INFO <section>`. */
async function info(url: string, section: string, field: string): Promise<string> {
  const redis = new Redis(url);
  try {
    return new RegExp(`${field}:(\\S+)`).exec(await redis.info(section))?.[1] ?? '';
  } finally {
    redis.disconnect();
  }
}

describe('queues and the fragment cache on separate Redis servers, the cache small and evicting', () => {
  let queue: LocalRedis;
  let cache: LocalRedis;
  let stack: Stack;

  beforeAll(async () => {
    queue = await LocalRedis.create(['--maxmemory-policy', 'noeviction']);
    cache = await LocalRedis.create(['--maxmemory', '16mb', '--maxmemory-policy', 'allkeys-lru']);
    stack = await Stack.start({
      users: VIEWERS + 100,
      // REDIS_URL (and the stack's own client, which counts jobs) is the queue server.
      redisUrl: queue.url,
      env: { QUEUE_REDIS_URL: queue.url, CACHE_REDIS_URL: cache.url, RATE_LIMIT_LOGIN_PER_MINUTE: '100000' },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await cache?.destroy();
    await queue?.destroy();
  });

  it('fails no request and loses no job when the cache overflows, and rebuilds evicted copies when asked', async () => {
    const statuses = new Map<number, number>();
    const started = Date.now();
    for (let from = 1; from <= VIEWERS; from += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, VIEWERS - from + 1) }, async (_, i) => {
          const response = await stack.get('/api/pages/dashboard', await stack.login(from + i));
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          await response.arrayBuffer();
        }),
      );
    }
    // Every build the requests queued runs to the end: none waits, none failed, none vanished.
    const deadline = Date.now() + 300_000;
    for (;;) {
      const busy = await Promise.all(
        ['profile', 'feed', 'recommendations'].flatMap((q) => [
          stack.redis.llen(stack.queueKey(q, 'wait')),
          stack.redis.llen(stack.queueKey(q, 'active')),
          stack.redis.zcard(stack.queueKey(q, 'delayed')),
        ]),
      );
      if (busy.every((n) => n === 0)) break;
      if (Date.now() > deadline) throw new Error(`builds still queued: ${busy.join(',')}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const failedJobs = await Promise.all(
      ['profile', 'feed', 'recommendations'].map((q) => stack.redis.zcard(stack.queueKey(q, 'failed'))),
    );
    const evicted = Number(await info(cache.url, 'stats', 'evicted_keys'));
    const queueEvicted = Number(await info(queue.url, 'stats', 'evicted_keys'));
    console.log(
      `${VIEWERS} cold dashboards in ${Date.now() - started} ms: answers ${JSON.stringify(Object.fromEntries(statuses))}; cache evicted ${evicted} keys (used ${await info(cache.url, 'memory', 'used_memory_human')}), queue evicted ${queueEvicted}`,
    );
    expect([...statuses.keys()].every((s) => s === 200)).toBe(true);
    expect(failedJobs).toEqual([0, 0, 0]);
    expect(evicted).toBeGreaterThan(0);
    expect(queueEvicted).toBe(0);

    // The first viewers' copies were the least recently used: some are gone, and come back when asked.
    const cacheClient = new Redis(cache.url);
    let gone = 0;
    for (let viewer = 1; viewer <= 200 && gone === 0; viewer++) {
      if ((await cacheClient.exists(`${stack.keyPrefix}frag:{u${viewer}}:feed:v1:u${viewer}:{}`)) === 0) gone = viewer;
    }
    cacheClient.disconnect();
    expect(gone).toBeGreaterThan(0);
    // Asked again, the evicted dashboard is rebuilt (the cache is still full, so this takes a few tries
    // of the client's usual waitMs while the rebuilt copies push older ones out).
    const token = await stack.login(gone);
    let seen: string[] = [];
    let attempt = 0;
    for (; attempt < 10 && !(seen.length > 0 && seen.every((s) => s === 'ready')); attempt++) {
      const again = await stack.get('/api/pages/dashboard?waitMs=2000', token);
      expect(again.status).toBe(200);
      seen = Object.values(((await again.json()) as Page).fragments).map((f) => f.status);
    }
    console.log(`viewer ${gone}'s evicted dashboard asked again: ${seen.join(', ')} after ${attempt} request(s)`);
    expect(seen).toEqual(['ready', 'ready', 'ready']);
  });
});
