import { ConfigurableModuleBuilder, type DynamicModule, Module, type ModuleMetadata, type Type } from '@nestjs/common';
import { DB_WORKER_ENV_KEYS, DbModule, dbOptionsFromEnv } from '@worker-pattern/db';
import {
  FRAGMENT_REDIS_READINESS,
  FRAGMENT_WORKER_ENV_KEYS,
  type FragmentBuilder,
  type FragmentDataOf,
  type FragmentDefinition,
  FragmentModule,
  fragmentOptionsFromEnv,
  type FragmentParamsOf,
  FragmentWorkerModule,
} from '@worker-pattern/fragment';
import { fromEnv, PlatformModule } from '@worker-pattern/platform';
import { type FRAGMENTS, type FragmentName, registeredFragment, type WorkerAppEntry } from '@worker-pattern/registry';
import type { z } from 'zod';
import { type QueueWorkerEnv, workerEnv, workerEnvDefaults } from './worker-env';

/**
 * What the shell takes from an app's entry in the registry (libs/registry, `APPS['feed-worker']`):
 * its name (logs, metrics, Redis and Postgres connection names), and the PORT and WORKER_CONCURRENCY
 * it runs with when the environment sets none. The bench's workers, outside the registry, pass one alike.
 */
export type HostedApp = Pick<WorkerAppEntry, 'name' | 'port' | 'concurrency'>;

export interface WorkerHostOptions {
  readonly app: HostedApp;
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

/**
 * A fragment worker's app: a registry entry, whose `fragment` names a registered fragment, or (the
 * bench's) an app outside the registry carrying its own definition.
 */
export interface FragmentHostedApp extends HostedApp {
  readonly fragment: FragmentName | FragmentDefinition;
  /** The queue the app scales on (registry entries): must be its fragment's. */
  readonly queue?: string;
}

/** The definition a fragment worker app builds: the registry's, by name, or the app's own. */
export type HostedFragment<A extends FragmentHostedApp> = A['fragment'] extends FragmentName
  ? (typeof FRAGMENTS)[A['fragment']]
  : A['fragment'];

export interface FragmentWorkerHostRegistration<A extends FragmentHostedApp> extends WorkerHostRegistration {
  readonly app: A;
  /** Typed by the app's fragment: a builder of another fragment's data does not compile. */
  readonly builder: Type<FragmentBuilder<FragmentParamsOf<HostedFragment<A>>, FragmentDataOf<HostedFragment<A>>>>;
}

/**
 * Every worker process's shell, in one module: validated config, logs, health and metrics
 * (platform), Postgres (db: the primary, and the replicas a builder's `DbReader` may read), the
 * engine's Redis side and Bull, plus whatever the worker consumes (`imports`). A worker app's root
 * module is a single `WorkerHostModule.register({ app: APPS['<app>'], … })`, or `forFragment(...)` for
 * a fragment worker: the registry entry names the app once, for its defaults, logs and connections.
 */
@Module({})
export class WorkerHostModule extends workerHost.ConfigurableModuleClass {
  static override register(options: WorkerHostRegistration): DynamicModule {
    const { app, envSchema = workerEnv, database = true } = options;
    const { name: service, port: defaultPort, concurrency: defaultConcurrency } = app;
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

  /**
   * A fragment worker: the shell, and the consumer of its fragment's one queue with its builder. The
   * fragment (and so the queue) comes from the app's entry: `forFragment({ app: APPS['feed-worker'], builder })`.
   */
  static forFragment<A extends FragmentHostedApp>(options: FragmentWorkerHostRegistration<A>): DynamicModule {
    const { builder, imports = [], ...host } = options;
    const { fragment: named, queue } = host.app;
    const fragment: FragmentDefinition = typeof named === 'string' ? registeredFragment(named) : named;
    // The registry scales the app on `queue`: consuming another would leave that backlog to no one.
    if (queue !== undefined && queue !== fragment.queue) {
      throw new Error(
        `${host.app.name} scales on queue "${queue}" but builds "${fragment.name}" from "${fragment.queue}"`,
      );
    }
    return WorkerHostModule.register({
      ...host,
      // The registration above ties the builder to this fragment's types; the engine takes any.
      imports: [FragmentWorkerModule.register({ fragment, builder: builder as Type<FragmentBuilder> }), ...imports],
    });
  }
}
