import { z } from 'zod';
import { envEnum, envHostPortList, envInt, envOriginList, envString, envUrl } from './env.fields';

/**
 * The environment every process of the platform reads. Apps compose what they need, for example
 * `baseEnvSchema.extend(databaseEnvSchema.shape).extend(workerEnvSchema.shape)`, and pass the result to
 * `PlatformModule.forRoot`. Values that differ per app (PORT, WORKER_CONCURRENCY) have no default here:
 * the app passes its own (`defaultPort`, `envDefaults`), so a forgotten default fails at start.
 */

export const NODE_ENVS = ['development', 'test', 'production'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const ONE_HOUR_MS = 3_600_000;

export const baseEnvSchema = z.object({
  NODE_ENV: envEnum(NODE_ENVS).default('development'),
  HOST: envString().default('127.0.0.1'),
  PORT: envInt(1, 65535),
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
  DATABASE_POOL_SIZE: envInt(1, 1000).default(10),
  // 0 disables Postgres' statement_timeout, as in Postgres itself.
  DATABASE_STATEMENT_TIMEOUT_MS: envInt(0, ONE_HOUR_MS).default(15_000),
});

export const workerEnvSchema = z.object({
  // Per pod and per queue: Bull adds up the concurrency of every handler on a queue.
  WORKER_CONCURRENCY: envInt(1, 256),
  // Must stay above the longest build step, or Bull declares the job stalled and runs it twice.
  BULL_LOCK_DURATION_MS: envInt(1000, ONE_HOUR_MS).default(30_000),
  BULL_STALLED_INTERVAL_MS: envInt(1000, ONE_HOUR_MS).default(15_000),
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
export type CorsEnv = z.output<typeof corsEnvSchema>;

/** Any schema whose parsed output carries at least the base variables the platform itself reads. */
export type EnvSchema = z.ZodType<BaseEnv>;
