import { envInt } from '@worker-pattern/platform';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';

/**
 * Every rate-limited route belongs to one scope, with its own budget per minute:
 * - `api`: any `/api` route, per viewer (per client address for requests without a valid token);
 * - `writes`: posts, follows and likes, per viewer — each one is a transaction and fans out;
 * - `login`: dev login, per client address (it has no viewer yet).
 */
export const RATE_LIMIT_SCOPES = ['api', 'writes', 'login'] as const;
export type RateLimitScope = (typeof RATE_LIMIT_SCOPES)[number];

export interface RateLimitOptions {
  /**
   * Where the counters live, shared by every gateway replica: the engine's connection, which fails
   * a command at once while Redis is down (no offline queue) instead of holding the request.
   */
  readonly redis: Redis | Cluster;
  /** REDIS_KEY_PREFIX: counters live at `<prefix>ratelimit:{u<viewer>}:<scope>:…` (or `{<scope>:ip:<address>:…}`). */
  readonly keyPrefix: string;
  readonly perMinute: Readonly<Record<RateLimitScope, number>>;
  /** A store slower than this does not hold the request: it goes through unlimited. Default 250 ms. */
  readonly storeTimeoutMs?: number;
}

export const RATE_LIMIT_OPTIONS = Symbol('RATE_LIMIT_OPTIONS');

const MAX_PER_MINUTE = 1_000_000;

export const rateLimitEnvSchema = z.object({
  // The demo page makes a handful of requests per view and polls while the stream is blocked; 20
  // a second per viewer leaves it room and still stops a runaway client.
  RATE_LIMIT_PER_MINUTE: envInt(1, MAX_PER_MINUTE).default(1200),
  RATE_LIMIT_WRITES_PER_MINUTE: envInt(1, MAX_PER_MINUTE).default(120),
  // Dev login exists outside production only; benches and tests mint thousands of viewers from one
  // address with it, so its budget is wide. In production the route answers 404 either way.
  RATE_LIMIT_LOGIN_PER_MINUTE: envInt(1, MAX_PER_MINUTE).default(3000),
});

export type RateLimitEnv = z.output<typeof rateLimitEnvSchema>;

export function rateLimitsFromEnv(env: RateLimitEnv): Record<RateLimitScope, number> {
  return {
    api: env.RATE_LIMIT_PER_MINUTE,
    writes: env.RATE_LIMIT_WRITES_PER_MINUTE,
    login: env.RATE_LIMIT_LOGIN_PER_MINUTE,
  };
}
