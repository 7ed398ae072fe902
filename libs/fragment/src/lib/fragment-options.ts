import { REDIS_ENV_KEYS, type RedisEnv, type RedisTopology, redisTopologyFromEnv } from './redis-clients';

/** Engine settings, read once from validated config by the app that imports `FragmentModule`. */
export interface FragmentModuleOptions {
  /** Which Redis serves the queues and which the fragment cache (often the same one). */
  readonly redis: RedisTopology;
  /** Prefix of every engine key and channel, e.g. `wp:`. Test runs use their own. */
  readonly keyPrefix: string;
  /** Bull's key prefix (`bull` by default, so queues live at `bull:<queue>:…`). */
  readonly bullPrefix: string;
  /** Short name of this process for Redis CLIENT LIST and logs, e.g. `feed-worker`. */
  readonly connectionName?: string;
  readonly worker?: FragmentWorkerOptions;
  /** Gateway: memory for fresh copies kept in the near cache, in bytes (0 or absent: no near cache). */
  readonly nearCacheBytes?: number;
}

export interface FragmentWorkerOptions {
  /** Builds run at once by this process (per pod). */
  readonly concurrency: number;
  /** Bull lock: must exceed the longest time the event loop may be blocked, or a job runs twice. */
  readonly lockDurationMs: number;
  /** How often Bull looks for jobs whose worker died (stalled-job recovery). */
  readonly stalledIntervalMs: number;
  /**
   * At shutdown, how long in-flight builds may finish before their jobs are handed back to the
   * queue for another worker (rather than left to stalled-job recovery).
   */
  readonly drainTimeoutMs: number;
}

/** The environment variables the engine reads (validated by the app's config schema). */
export interface FragmentEnv extends RedisEnv {
  readonly REDIS_KEY_PREFIX: string;
  readonly BULL_PREFIX: string;
  /** Gateway only. */
  readonly NEAR_CACHE_MAX_MB?: number;
}

export interface FragmentWorkerEnv {
  readonly WORKER_CONCURRENCY: number;
  readonly BULL_LOCK_DURATION_MS: number;
  readonly BULL_STALLED_INTERVAL_MS: number;
  readonly SHUTDOWN_TIMEOUT_MS: number;
}

/** Time kept after the drain for handing jobs back and closing connections, inside the shutdown budget. */
const SHUTDOWN_MARGIN_MS = 3000;

/** The variables `fragmentOptionsFromEnv` reads: in a gateway, and in a worker. */
export const FRAGMENT_ENV_KEYS = [...REDIS_ENV_KEYS, 'REDIS_KEY_PREFIX', 'BULL_PREFIX'] as const;
export const FRAGMENT_GATEWAY_ENV_KEYS = [...FRAGMENT_ENV_KEYS, 'NEAR_CACHE_MAX_MB'] as const;
export const FRAGMENT_WORKER_ENV_KEYS = [
  ...FRAGMENT_ENV_KEYS,
  'WORKER_CONCURRENCY',
  'BULL_LOCK_DURATION_MS',
  'BULL_STALLED_INTERVAL_MS',
  'SHUTDOWN_TIMEOUT_MS',
] as const;

/** A gateway's variables give the engine's shared part; a worker's (with WORKER_CONCURRENCY) its worker side too. */
export function fragmentOptionsFromEnv(
  env: FragmentEnv | (FragmentEnv & FragmentWorkerEnv),
  connectionName: string,
): FragmentModuleOptions {
  // The defaults are the environment schema's (libs/platform/src/lib/config/env.schema.ts), not repeated here.
  const worker =
    'WORKER_CONCURRENCY' in env
      ? {
          concurrency: env.WORKER_CONCURRENCY,
          lockDurationMs: env.BULL_LOCK_DURATION_MS,
          stalledIntervalMs: env.BULL_STALLED_INTERVAL_MS,
          drainTimeoutMs: Math.max(1000, env.SHUTDOWN_TIMEOUT_MS - SHUTDOWN_MARGIN_MS),
        }
      : undefined;
  return {
    redis: redisTopologyFromEnv(env),
    keyPrefix: env.REDIS_KEY_PREFIX,
    bullPrefix: env.BULL_PREFIX,
    connectionName,
    worker,
    nearCacheBytes: env.NEAR_CACHE_MAX_MB === undefined ? undefined : env.NEAR_CACHE_MAX_MB * 1024 * 1024,
  };
}
