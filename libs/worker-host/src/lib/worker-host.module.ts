import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { DB_WORKER_ENV_KEYS, DbModule, dbOptionsFromEnv } from '@worker-pattern/db';
import {
  FRAGMENT_REDIS_READINESS,
  FRAGMENT_WORKER_ENV_KEYS,
  type FragmentBuilder,
  type FragmentDefinition,
  FragmentModule,
  fragmentOptionsFromEnv,
  FragmentWorkerModule,
} from '@worker-pattern/fragment';
import {
  AppConfig,
  baseEnvSchema,
  databaseEnvSchema,
  databaseReplicaEnvSchema,
  fanoutEnvSchema,
  pickEnv,
  PlatformModule,
  poolCoversConcurrency,
  workerEnvSchema,
} from '@worker-pattern/platform';
import type { z } from 'zod';

/** Every worker's environment; a worker refuses to start with more builds at once than pool connections. */
export const workerEnv = baseEnvSchema
  .extend(databaseEnvSchema.shape)
  .extend(databaseReplicaEnvSchema.shape)
  .extend(workerEnvSchema.shape)
  .extend(fanoutEnvSchema.shape)
  .superRefine(poolCoversConcurrency);
export type WorkerEnv = z.output<typeof workerEnv>;

/** Smallest pool a worker gets when DATABASE_POOL_SIZE is unset, whatever its concurrency. */
const MIN_DEFAULT_POOL_SIZE = 10;

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

export interface WorkerHostOptions<P extends Record<string, unknown>> {
  /** Process name: logs, metrics, Redis and Postgres connection names (`feed-worker`). */
  readonly service: string;
  readonly defaultPort: number;
  /** Builds per pod when WORKER_CONCURRENCY is unset: high for I/O-bound builders, low for heavy SQL. */
  readonly defaultConcurrency: number;
  readonly fragment: FragmentDefinition<P>;
  readonly builder: Type<FragmentBuilder<P>>;
}

/**
 * Everything a fragment worker process is, in one module: validated config, logs, health and
 * metrics (platform), Postgres (db: the primary, and the replicas its builder's `DbReader` may read),
 * the engine's Redis side, and the consumer of the fragment's one queue. A worker app's root module is a single `WorkerHostModule.register(...)`.
 */
@Module({})
export class WorkerHostModule {
  static register<P extends Record<string, unknown>>(options: WorkerHostOptions<P>): DynamicModule {
    return {
      module: WorkerHostModule,
      imports: [
        PlatformModule.forRoot({
          service: options.service,
          envSchema: workerEnv,
          defaultPort: options.defaultPort,
          envDefaults: workerEnvDefaults(options.defaultConcurrency),
          readiness: { redis: FRAGMENT_REDIS_READINESS, postgres: true },
        }),
        DbModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig<WorkerEnv>) =>
            dbOptionsFromEnv(pickEnv(config, DB_WORKER_ENV_KEYS), options.service),
        }),
        FragmentModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig<WorkerEnv>) =>
            fragmentOptionsFromEnv(pickEnv(config, FRAGMENT_WORKER_ENV_KEYS), options.service),
        }),
        FragmentWorkerModule.register({ fragment: options.fragment, builder: options.builder }),
      ],
    };
  }
}
