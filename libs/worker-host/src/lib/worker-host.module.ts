import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { DB_ENV_KEYS, DbModule, dbOptionsFromEnv } from '@worker-pattern/db';
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
  pickEnv,
  PlatformModule,
  workerEnvSchema,
} from '@worker-pattern/platform';
import type { z } from 'zod';

export const workerEnv = baseEnvSchema.extend(databaseEnvSchema.shape).extend(workerEnvSchema.shape);
export type WorkerEnv = z.output<typeof workerEnv>;

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
 * metrics (platform), Postgres (db), the engine's Redis side, and the consumer of the fragment's
 * one queue. A worker app's root module is a single `WorkerHostModule.register(...)`.
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
          envDefaults: { WORKER_CONCURRENCY: options.defaultConcurrency },
          readiness: { redis: FRAGMENT_REDIS_READINESS, postgres: true },
        }),
        DbModule.forRootAsync({
          inject: [AppConfig],
          useFactory: (config: AppConfig<WorkerEnv>) => dbOptionsFromEnv(pickEnv(config, DB_ENV_KEYS), options.service),
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
