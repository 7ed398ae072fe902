import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** Where tests find Redis; every run works under its own key prefix on it. */
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A prefix no other test run uses, e.g. `t:3f9a1c0b:`. */
export function uniqueTestPrefix(tag = 't'): string {
  return `${tag}:${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key under `prefix` (SCAN, never KEYS), so a test run leaves Redis as it found it. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}
