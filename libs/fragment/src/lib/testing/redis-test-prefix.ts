import { randomBytes } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import type { RedisTopology } from '../redis-clients';

/** Where tests find Redis; every run works under its own key prefix on it. */
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A prefix no other test run uses, e.g. `t:3f9a1c0b:`. */
export function uniqueTestPrefix(tag = 't'): string {
  return `${tag}:${randomBytes(4).toString('hex')}:`;
}

/**
 * Deletes every key under `prefix` (SCAN, never KEYS), so a test run leaves Redis as it found it. On
 * a Cluster, every master is scanned and keys are deleted one by one (they live in many slots).
 */
export async function deleteKeysWithPrefix(redis: Redis | Cluster, prefix: string): Promise<number> {
  if (redis instanceof Cluster) {
    const counts = await Promise.all(redis.nodes('master').map((node) => deleteOnNode(node, prefix, false)));
    return counts.reduce((sum, n) => sum + n, 0);
  }
  return deleteOnNode(redis, prefix, true);
}

async function deleteOnNode(redis: Redis, prefix: string, multiKey: boolean): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    if (multiKey) {
      deleted += await redis.unlink(...keys);
    } else {
      const pipeline = redis.pipeline();
      for (const key of keys) pipeline.unlink(key);
      const results = (await pipeline.exec()) ?? [];
      deleted += results.reduce((sum, [, n]) => sum + Number(n ?? 0), 0);
    }
  } while (cursor !== '0');
  return deleted;
}

/** Both roles on one Redis at `url` (the shared test Redis by default). */
export function singleRedisTopology(url = TEST_REDIS_URL): RedisTopology {
  const endpoint = { kind: 'single', url } as const;
  return { cache: endpoint, queue: endpoint };
}
