import type { Redis } from 'ioredis';
import { RateLimitStoreTimeoutError, RedisThrottlerStorage } from './redis-throttler.storage';

// The storage against a stand-in client: key layout, reply parsing, timeout. Against real Redis
// (counting, expiry, blocking) it runs in the gateway's integration tests.

function clientAnswering(reply: () => Promise<unknown>) {
  const calls: unknown[][] = [];
  const client = {
    call: (...args: unknown[]) => {
      calls.push(args);
      return reply();
    },
  };
  // The base class checks `instanceof Redis` only to decide whether it owns the client.
  Object.setPrototypeOf(client, (jest.requireActual('ioredis') as { Redis: { prototype: object } }).Redis.prototype);
  return { client: client as unknown as Redis, calls };
}

describe('RedisThrottlerStorage', () => {
  it('keeps both keys under the prefix, sharing one hash tag, and parses the script’s reply', async () => {
    const { client, calls } = clientAnswering(async () => [3, 59_001, 0, 0]);
    const storage = new RedisThrottlerStorage(client, 'wp:');
    await expect(storage.increment('api:v:42', 60_000, 30, 60_000, 'default')).resolves.toEqual({
      totalHits: 3,
      timeToExpire: 60,
      isBlocked: false,
      timeToBlockExpire: 0,
    });
    const [command, script, keyCount, hits, blocked, name, ttl, limit, block] = calls[0]!;
    expect([command, keyCount, hits, blocked, name, ttl, limit, block]).toEqual([
      'eval',
      2,
      'wp:ratelimit:{u42}:api:default:hits',
      'wp:ratelimit:{u42}:api:default:blocked',
      'default',
      60_000,
      30,
      60_000,
    ]);
    expect(script).toContain("redis.call('INCR', hitKey)");
  });

  it('gives an address its own tag, and no address can break out of it', () => {
    const storage = new RedisThrottlerStorage(clientAnswering(async () => [1, 1, 0, 0]).client, 'wp:');
    expect(storage.hitsKey('login:ip:203.0.113.7', 'default')).toBe('wp:ratelimit:{login:ip:203.0.113.7:default}:hits');
    expect(storage.hitsKey('api:ip:}{u1', 'default')).toBe('wp:ratelimit:{api:ip:__u1:default}:hits');
  });

  it('reports a block in whole seconds, rounded up', async () => {
    const { client } = clientAnswering(async () => [31, 10_000, 1, 1_200]);
    await expect(
      new RedisThrottlerStorage(client, 'wp:').increment('k', 60_000, 30, 60_000, 'default'),
    ).resolves.toMatchObject({ isBlocked: true, timeToBlockExpire: 2 });
  });

  it('fails rather than hold the request when the store does not answer in time', async () => {
    const { client } = clientAnswering(() => new Promise(() => undefined));
    const started = Date.now();
    await expect(
      new RedisThrottlerStorage(client, 'wp:', 50).increment('k', 60_000, 30, 60_000, 'default'),
    ).rejects.toBeInstanceOf(RateLimitStoreTimeoutError);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('fails on a reply it does not understand', async () => {
    const { client } = clientAnswering(async () => 'OK');
    await expect(
      new RedisThrottlerStorage(client, 'wp:').increment('k', 60_000, 30, 60_000, 'default'),
    ).rejects.toThrow(/unexpected reply/);
  });
});
