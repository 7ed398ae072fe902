import { z } from 'zod';
import {
  envCidrList,
  envEnum,
  envHostPortList,
  envInt,
  envOriginList,
  envString,
  envUrl,
  envUrlList,
} from './env.fields';

/**
 * The environment every process of the platform reads. Apps compose what they need, for example
 * `baseEnvSchema.extend(databaseEnvSchema.shape).extend(workerEnvSchema.shape)`, and pass the result to
 * `PlatformModule.forRoot`. Values that differ per app (PORT, WORKER_CONCURRENCY) have no default here:
 * the app passes its own (`defaultPort`, `envDefaults`), so a forgotten default fails at start.
 * Settings of a lib this one cannot import (the data layer's, the feed's fan-out) are optional here:
 * unset, they are left to the default that lib states once, for every caller (`DEFAULT_POOL_SIZE`…).
 */

export const NODE_ENVS = ['development', 'test', 'production'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const ONE_HOUR_MS = 3_600_000;

export const baseEnvSchema = z.object({
  NODE_ENV: envEnum(NODE_ENVS).default('development'),
  HOST: envString().default('127.0.0.1'),
  // The proxies (ingress, load balancer) whose X-Forwarded-For names the client; unset: nobody's.
  TRUSTED_PROXIES: envCidrList().default([]),
  PORT: envInt(1, 65535),
  // Set, /metrics, the health probes and admin surfaces answer on this port only (bound like PORT),
  // and PORT answers 404 for them: a port no Service exposes. Must differ from PORT (checked by
  // `managementPortDiffers`, which PlatformModule applies to every app's schema).
  MANAGEMENT_PORT: envInt(1, 65535).optional(),
  LOG_LEVEL: envEnum(LOG_LEVELS).default('info'),
  REDIS_URL: envUrl(['redis', 'rediss']).default('redis://127.0.0.1:6379'),
  // Set, every Redis role runs on this Redis Cluster (REDIS_URL then only gives credentials and TLS).
  REDIS_CLUSTER_NODES: envHostPortList().optional(),
  // Set (with REDIS_SENTINEL_NAME), every role runs on the master these Sentinels name.
  REDIS_SENTINELS: envHostPortList().optional(),
  REDIS_SENTINEL_NAME: envString(/^[A-Za-z0-9._-]+$/, 'must be a Sentinel master name').optional(),
  // Split roles: Bull's queues (noeviction, persistence) and the fragment cache (may evict).
  QUEUE_REDIS_URL: envUrl(['redis', 'rediss']).optional(),
  CACHE_REDIS_URL: envUrl(['redis', 'rediss']).optional(),
  // Every key of ours starts with this prefix; the trailing ':' keeps `wp:x` and `wpx` apart. No
  // braces: the hash tag that places a key in a Cluster slot comes after it.
  REDIS_KEY_PREFIX: envString(/^[^\s{}]*:$/, 'must end with ":" and contain no spaces or braces').default('wp:'),
  BULL_PREFIX: envString(/^[^\s{}]+$/, 'must be a non-empty string without spaces or braces').default('bull'),
  // Below the orchestrator's grace period (Kubernetes: 30 s), so we exit on our own terms.
  SHUTDOWN_TIMEOUT_MS: envInt(1, ONE_HOUR_MS).default(25_000),
});

export const databaseEnvSchema = z.object({
  DATABASE_URL: envUrl(['postgres', 'postgresql']).default('postgres://postgres@127.0.0.1:5432/worker_pattern'),
  // Unset: libs/db's DEFAULT_POOL_SIZE (a worker's own default covers its concurrency).
  DATABASE_POOL_SIZE: envInt(1, 1000).optional(),
  // 0 disables Postgres' statement_timeout, as in Postgres itself. Unset: libs/db's DEFAULT_STATEMENT_TIMEOUT_MS.
  DATABASE_STATEMENT_TIMEOUT_MS: envInt(0, ONE_HOUR_MS).optional(),
});

/**
 * What workers add to the database settings: streaming replicas for builder reads (writes, the
 * outbox, its relay and migrations stay on DATABASE_URL), and the relay's LISTEN connection.
 */
export const databaseReplicaEnvSchema = z.object({
  // Unset: every read goes to the primary.
  DATABASE_REPLICA_URLS: envUrlList(['postgres', 'postgresql']).default([]),
  // A replica further behind the primary than this serves no reads until it catches up (unset:
  // libs/db's DEFAULT_REPLICA_MAX_LAG_MS).
  DATABASE_REPLICA_MAX_LAG_MS: envInt(1, ONE_HOUR_MS).optional(),
  // How long a build that must see a write waits for a replica to replay it before reading the
  // primary (unset: libs/db's DEFAULT_REPLICA_WAIT_MS).
  DATABASE_REPLICA_WAIT_MS: envInt(0, 60_000).optional(),
  // LISTEN needs a session: a direct connection (or a session-mode pool), never a transaction pooler.
  DATABASE_LISTEN_URL: envUrl(['postgres', 'postgresql']).optional(),
});

export const workerEnvSchema = z.object({
  // Per pod and per queue: Bull adds up the concurrency of every handler on a queue.
  WORKER_CONCURRENCY: envInt(1, 256),
  // Must stay above the longest build step, or Bull declares the job stalled and runs it twice.
  BULL_LOCK_DURATION_MS: envInt(1000, ONE_HOUR_MS).default(30_000),
  BULL_STALLED_INTERVAL_MS: envInt(1000, ONE_HOUR_MS).default(15_000),
});

/**
 * Bounded, hybrid fan-out of posts (the invalidation worker pushes, the feed worker pulls): a post
 * invalidates its author's followers' feeds in pages of FANOUT_PAGE_SIZE followers, one queue job
 * each; an author with more than FANOUT_CELEBRITY_FOLLOWERS followers is not pushed at all, and a feed
 * that follows such an author is fresh for FANOUT_CELEBRITY_FEED_TTL_MS only, so it pulls their posts.
 * Unset, each is libs/feed's `DEFAULT_FEED_FANOUT`.
 */
export const fanoutEnvSchema = z.object({
  FANOUT_PAGE_SIZE: envInt(1, 100_000).optional(),
  FANOUT_CELEBRITY_FOLLOWERS: envInt(2, 1_000_000_000).optional(),
  FANOUT_CELEBRITY_FEED_TTL_MS: envInt(100, 60_000).optional(),
});

/** For apps browsers call (the gateway): which other origins may, if any. */
export const corsEnvSchema = z.object({
  // Unset: CORS is closed, so no page of another origin can read an answer.
  CORS_ORIGINS: envOriginList().default([]),
});

export type NodeEnv = (typeof NODE_ENVS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type BaseEnv = z.output<typeof baseEnvSchema>;
export type DatabaseEnv = z.output<typeof databaseEnvSchema>;
export type WorkerEnv = z.output<typeof workerEnvSchema>;
export type DatabaseReplicaEnv = z.output<typeof databaseReplicaEnvSchema>;
export type CorsEnv = z.output<typeof corsEnvSchema>;
export type FanoutEnv = z.output<typeof fanoutEnvSchema>;

/** Any schema whose parsed output carries at least the base variables the platform itself reads. */
export type EnvSchema = z.ZodType<BaseEnv>;

/**
 * A refinement for a worker's schema: builds at once (WORKER_CONCURRENCY) never exceed the
 * connections of a pool (DATABASE_POOL_SIZE, per server). A build holds a connection while it reads;
 * with more builds than connections the rest would queue inside the process for one while their
 * build timeout runs, where no statement timeout can see them.
 */
export function poolCoversConcurrency(
  env: { WORKER_CONCURRENCY: number; DATABASE_POOL_SIZE: number },
  ctx: z.RefinementCtx,
): void {
  if (env.WORKER_CONCURRENCY > env.DATABASE_POOL_SIZE) {
    ctx.addIssue({
      code: 'custom',
      path: ['WORKER_CONCURRENCY'],
      message:
        `must not exceed DATABASE_POOL_SIZE (${env.DATABASE_POOL_SIZE}): every build holds a database connection ` +
        `while it reads; raise DATABASE_POOL_SIZE to at least ${env.WORKER_CONCURRENCY} or lower WORKER_CONCURRENCY`,
    });
  }
}

/**
 * The platform's own cross-variable check, added by `PlatformModule.forRoot` to every app's schema:
 * the management port cannot share the public port (the two listeners would collide at start).
 */
export function managementPortDiffers(env: { PORT: number; MANAGEMENT_PORT?: number }, ctx: z.RefinementCtx): void {
  if (env.MANAGEMENT_PORT !== undefined && env.MANAGEMENT_PORT === env.PORT) {
    ctx.addIssue({
      code: 'custom',
      path: ['MANAGEMENT_PORT'],
      message: `must differ from PORT (${env.PORT}): /metrics, the health probes and admin pages move to it, off the public port`,
    });
  }
}
