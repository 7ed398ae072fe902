import { DEFAULT_POOL_SIZE } from '@worker-pattern/db';
import {
  baseEnvSchema,
  databaseEnvSchema,
  databaseReplicaEnvSchema,
  fanoutEnvSchema,
  poolCoversConcurrency,
  workerEnvSchema,
} from '@worker-pattern/platform';
import type { z } from 'zod';

/** What every queue consumer reads: the platform's variables and the engine's worker settings. */
export const queueWorkerEnv = baseEnvSchema.extend(workerEnvSchema.shape);
export type QueueWorkerEnv = z.output<typeof queueWorkerEnv>;

/** Every worker's environment; a worker refuses to start with more builds at once than pool connections. */
export const workerEnv = queueWorkerEnv
  .extend(databaseEnvSchema.shape)
  // Always set for a worker (its default, `workerEnvDefaults`, covers its concurrency), so checked here.
  .extend({ DATABASE_POOL_SIZE: databaseEnvSchema.shape.DATABASE_POOL_SIZE.unwrap() })
  .extend(databaseReplicaEnvSchema.shape)
  .extend(fanoutEnvSchema.shape)
  .superRefine(poolCoversConcurrency);
export type WorkerEnv = z.output<typeof workerEnv>;

/**
 * A worker's defaults for what the shared schemas leave per app: its concurrency, and a pool that
 * covers it (raising the data layer's DEFAULT_POOL_SIZE where the concurrency is higher).
 */
export function workerEnvDefaults(defaultConcurrency: number): {
  WORKER_CONCURRENCY: number;
  DATABASE_POOL_SIZE: number;
} {
  return {
    WORKER_CONCURRENCY: defaultConcurrency,
    DATABASE_POOL_SIZE: Math.max(DEFAULT_POOL_SIZE, defaultConcurrency),
  };
}
