import { Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { withTimeout } from './with-timeout';

const logger = new Logger('FragmentRedis');

/**
 * The engine's command connection. No offline queue and one retry per command: while Redis is down,
 * a page request fails within milliseconds (the gateway answers 503) instead of hanging in a queue.
 * The connection itself keeps reconnecting in the background, so the process recovers by itself.
 */
export function createFragmentRedis(url: string, name: string, overrides: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    connectionName: name,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    ...overrides,
  });
  redis.on('error', (error: Error) => logger.warn(`${name}: ${error.message}`));
  return redis;
}

const CONNECTION_ERROR =
  /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|max retries per request|Command timed out/i;

/**
 * Whether an error means "Redis is not reachable right now" (answer 503 and let it reconnect) rather
 * than a bug. A command on a socket that is just closing fails before the client's status changes,
 * so the message is checked as well as the status.
 */
export function isRedisConnectionError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'MaxRetriesPerRequestError' || CONNECTION_ERROR.test(error.message));
}

/** Start-up check: connect or fail within `timeoutMs`, so a process never starts half-wired. */
export async function connectOrFail(redis: Redis, timeoutMs: number): Promise<void> {
  try {
    await withTimeout(redis.connect(), timeoutMs, `Redis not reachable within ${timeoutMs} ms`);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
}

/** Bull's own connections: Bull requires blocking and subscriber clients to retry forever. */
export function createBullClient(url: string, name: string, type: 'client' | 'subscriber' | 'bclient'): Redis {
  const shared: RedisOptions = {
    connectionName: `${name}:bull-${type}`,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  };
  const options: RedisOptions =
    type === 'client' ? shared : { ...shared, maxRetriesPerRequest: null, enableReadyCheck: false };
  return new Redis(url, options);
}
