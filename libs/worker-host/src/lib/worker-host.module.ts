import { ConfigurableModuleBuilder, type DynamicModule, Module, type ModuleMetadata, type Type } from '@nestjs/common';
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
import { fromEnv, PlatformModule } from '@worker-pattern/platform';
import type { z } from 'zod';
import { type QueueWorkerEnv, workerEnv, workerEnvDefaults } from './worker-env';

export interface WorkerHostOptions {
  /** Process name: logs, metrics, Redis and Postgres connection names (`feed-worker`). */
  readonly service: string;
  readonly defaultPort: number;
  /** Jobs per pod when WORKER_CONCURRENCY is unset: high for I/O-bound builders, low for heavy SQL. */
  readonly defaultConcurrency: number;
  /** The app's environment (default `workerEnv`); at least the platform's and the engine's worker variables. */
  readonly envSchema?: z.ZodType<QueueWorkerEnv>;
  /**
   * Whether the process uses Postgres (default true): the data layer, its variables in the defaults
   * and in /health/ready. Only the bench worker, whose builder reads nothing, goes without.
   */
  readonly database?: boolean;
}

/** What the worker consumes and needs beyond the shell: its consumer module, its domain's settings. */
interface WorkerHostExtras {
  readonly imports: NonNullable<ModuleMetadata['imports']>;
}

export const WORKER_HOST_OPTIONS = Symbol('WORKER_HOST_OPTIONS');

const workerHost = new ConfigurableModuleBuilder<WorkerHostOptions>({
  optionsInjectionToken: WORKER_HOST_OPTIONS,
})
  .setClassMethodName('register')
  .setExtras<WorkerHostExtras>({ imports: [] }, (definition, extras) => ({
    ...definition,
    imports: [...(definition.imports ?? []), ...extras.imports],
  }))
  .build();

export type WorkerHostRegistration = typeof workerHost.OPTIONS_TYPE;

export interface FragmentWorkerHostRegistration<P extends Record<string, unknown>> extends WorkerHostRegistration {
  readonly fragment: FragmentDefinition<P>;
  readonly builder: Type<FragmentBuilder<P>>;
}

/**
 * Every worker process's shell, in one module: validated config, logs, health and metrics
 * (platform), Postgres (db: the primary, and the replicas a builder's `DbReader` may read), the
 * engine's Redis side and Bull, plus whatever the worker consumes (`imports`). A worker app's root
 * module is a single `WorkerHostModule.register(...)`, or `forFragment(...)` for a fragment worker.
 */
@Module({})
export class WorkerHostModule extends workerHost.ConfigurableModuleClass {
  static override register(options: WorkerHostRegistration): DynamicModule {
    const { service, defaultPort, defaultConcurrency, envSchema = workerEnv, database = true } = options;
    const definition = super.register(options);
    return {
      ...definition,
      imports: [
        PlatformModule.forRoot({
          service,
          envSchema,
          defaultPort,
          envDefaults: database ? workerEnvDefaults(defaultConcurrency) : { WORKER_CONCURRENCY: defaultConcurrency },
          readiness: { redis: FRAGMENT_REDIS_READINESS, postgres: database },
        }),
        // DATABASE_LISTEN_URL: the outbox relay's LISTEN; writes, the outbox and the fan-out stay on DATABASE_URL.
        ...(database
          ? [DbModule.forRootAsync(fromEnv(DB_WORKER_ENV_KEYS, (env) => dbOptionsFromEnv(env, service)))]
          : []),
        FragmentModule.forRootAsync(fromEnv(FRAGMENT_WORKER_ENV_KEYS, (env) => fragmentOptionsFromEnv(env, service))),
        ...(definition.imports ?? []),
      ],
    };
  }

  /** A fragment worker: the shell, and the consumer of its fragment's one queue with its builder. */
  static forFragment<P extends Record<string, unknown>>(options: FragmentWorkerHostRegistration<P>): DynamicModule {
    const { fragment, builder, imports = [], ...host } = options;
    return WorkerHostModule.register({
      ...host,
      imports: [FragmentWorkerModule.register({ fragment, builder }), ...imports],
    });
  }
}
