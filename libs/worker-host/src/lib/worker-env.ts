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
  .extend(databaseReplicaEnvSchema.shape)
  .extend(fanoutEnvSchema.shape)
  .superRefine(poolCoversConcurrency);
export type WorkerEnv = z.output<typeof workerEnv>;

/** Smallest pool a worker gets when DATABASE_POOL_SIZE is unset: the schema's own default. */
const MIN_DEFAULT_POOL_SIZE: number = databaseEnvSchema.shape.DATABASE_POOL_SIZE.parse(undefined);

/**
 * A worker's defaults for what the shared schemas leave per app: its concurrency, and a pool that
 * covers it (raising DATABASE_POOL_SIZE's default where the concurrency is higher).
 */
export function workerEnvDefaults(defaultConcurrency: number): {
  WORKER_CONCURRENCY: number;
  DATABASE_POOL_SIZE: number;
} {
  return {
    WORKER_CONCURRENCY: defaultConcurrency,
    DATABASE_POOL_SIZE: Math.max(MIN_DEFAULT_POOL_SIZE, defaultConcurrency),
  };
}
