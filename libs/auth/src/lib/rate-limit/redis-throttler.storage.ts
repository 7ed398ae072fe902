import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Cluster, Redis } from 'ioredis';

export type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

export const DEFAULT_STORE_TIMEOUT_MS = 250;

/** Counters whose key layout is remembered; past it the memo starts over. */
const HITS_KEYS_MEMO_LIMIT = 10_000;

export class RateLimitStoreTimeoutError extends Error {}

/** The block marker beside a counter's hits key (same hash tag, same slot). */
export function blockedKeyOf(hitsKey: string): string {
  return hitsKey.replace(/:hits$/, ':blocked');
}

/**
 * `@nest-lab/throttler-storage-redis`, with its counting script, on a connection we already hold
 * and under our key prefix. Its own key layout, `{<key>:<name>}:hits`, starts with the hash tag
 * and so escapes REDIS_KEY_PREFIX (a test run could not find and delete its keys); this one puts
 * the prefix first and tags a viewer's counters `{u<id>}`, the viewer's own Redis Cluster slot
 * (beside their fragments); an address's counters get a tag of their own. Both keys of a counter
 * share the slot the script needs.
 * A store that does not answer within `timeoutMs` fails the call rather than holding the request.
 */
export class RedisThrottlerStorage extends ThrottlerStorageRedisService {
  constructor(
    redis: Redis | Cluster,
    private readonly keyPrefix: string,
    private readonly timeoutMs = DEFAULT_STORE_TIMEOUT_MS,
  ) {
    // Given a client, the base class neither connects nor closes it: the engine owns the connection.
    // The base class takes either (one overload each); TypeScript cannot pick an overload for the union.
    super(redis as Redis);
  }

  private readonly hitsKeys = new Map<string, string>();

  /** Where the counter of `key` lives (its block marker is the same with `:blocked`); remembered per key. */
  hitsKey(key: string, throttlerName: string): string {
    const memoKey = `${throttlerName}\0${key}`;
    let hits = this.hitsKeys.get(memoKey);
    if (hits === undefined) {
      hits = this.layOut(key, throttlerName);
      if (this.hitsKeys.size >= HITS_KEYS_MEMO_LIMIT) this.hitsKeys.clear();
      this.hitsKeys.set(memoKey, hits);
    }
    return hits;
  }

  private layOut(key: string, throttlerName: string): string {
    const viewer = /^([a-z]+):v:(\d+)$/.exec(key);
    if (viewer) return `${this.keyPrefix}ratelimit:{u${viewer[2]}}:${viewer[1]}:${throttlerName}:hits`;
    return `${this.keyPrefix}ratelimit:{${key.replace(/[{}]/g, '_')}:${throttlerName}}:hits`;
  }

  override async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const hits = this.hitsKey(key, throttlerName);
    const blocked = blockedKeyOf(hits);
    const reply = await this.withTimeout(
      this.redis.call('eval', this.scriptSrc, 2, hits, blocked, throttlerName, ttl, limit, blockDuration),
    );
    if (!Array.isArray(reply) || reply.length !== 4 || !reply.every((n) => typeof n === 'number')) {
      throw new TypeError(`unexpected reply from the rate-limit script: ${JSON.stringify(reply)}`);
    }
    const [totalHits, timeToExpireMs, isBlocked, timeToBlockExpireMs] = reply as [number, number, number, number];
    return {
      totalHits,
      timeToExpire: Math.ceil(timeToExpireMs / 1000),
      isBlocked: isBlocked === 1,
      timeToBlockExpire: Math.ceil(timeToBlockExpireMs / 1000),
    };
  }

  private withTimeout<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RateLimitStoreTimeoutError(`rate-limit store did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }
}
