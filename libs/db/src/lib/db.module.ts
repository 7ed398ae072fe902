import { ConfigurableModuleBuilder, type DynamicModule, Module } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  createDataSourceOptions,
  type DbConnectionOptions,
  resolveDbConnectionOptions,
  type ResolvedDbConnectionOptions,
} from './data-source-options';
import { LazyDataSource } from './lazy-data-source';
import { DbReader, type ReplicaCheckTuning } from './reads/db-reader';

/** The resolved connection settings (`ResolvedDbConnectionOptions`): statement timeout, LISTEN URL… */
export const DB_CONNECTION_OPTIONS = Symbol('DB_CONNECTION_OPTIONS');
/** The options as the app gave them (`DbConnectionOptions`), before defaults are filled in. */
const DB_OPTIONS = Symbol('DB_OPTIONS');
const DB_REPLICA_CHECKS = Symbol('DB_REPLICA_CHECKS');

/** A worker without its database is useless: give up within seconds, not after Nest's default 10 × 3 s. */
export const DB_CONNECT_RETRY_ATTEMPTS = 3;
export const DB_CONNECT_RETRY_DELAY_MS = 500;

interface DbModuleExtras {
  /** Replica health-check timings for `DbReader` (tests shorten them). */
  readonly replicaChecks?: ReplicaCheckTuning;
}

/**
 * Nest's configurable-module plumbing: `useFactory` (with `inject`, `imports`), `useClass` or
 * `useExisting` gives the options; the module provides them raw and resolved.
 */
const dbOptions = new ConfigurableModuleBuilder<DbConnectionOptions>({
  optionsInjectionToken: DB_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras<DbModuleExtras>({ replicaChecks: undefined }, (definition, extras) => ({
    ...definition,
    providers: [
      ...(definition.providers ?? []),
      // A factory, not useValue: Nest takes an undefined useValue for a class provider.
      { provide: DB_REPLICA_CHECKS, useFactory: () => extras.replicaChecks },
      { provide: DB_CONNECTION_OPTIONS, inject: [DB_OPTIONS], useFactory: resolveDbConnectionOptions },
    ],
    exports: [DB_OPTIONS, DB_CONNECTION_OPTIONS, DB_REPLICA_CHECKS],
  }))
  .build();

export type DbModuleAsyncOptions = typeof dbOptions.ASYNC_OPTIONS_TYPE;

@Module({})
class DbOptionsModule extends dbOptions.ConfigurableModuleClass {}

/**
 * The TypeORM root module for our apps: entities, migrations and pool settings come from
 * `createDataSourceOptions`, so an app only says where the database is. Global: injects `DataSource`
 * (`@InjectDataSource()`) and repositories, the resolved options (`DB_CONNECTION_OPTIONS`), and the
 * builders' `DbReader` (replicas, freshness fences).
 */
@Module({})
export class DbModule {
  /**
   * For a process that must start and serve without Postgres (the gateway): provides a
   * `LazyDataSource` that connects in the background and keeps retrying.
   */
  static forRootLazyAsync(options: DbModuleAsyncOptions): DynamicModule {
    const connectionOptions = DbOptionsModule.forRootAsync(options);
    return {
      module: DbModule,
      global: true,
      imports: [connectionOptions],
      providers: [
        {
          provide: LazyDataSource,
          inject: [DB_OPTIONS],
          useFactory: (o: DbConnectionOptions) => new LazyDataSource(o),
        },
      ],
      exports: [LazyDataSource],
    };
  }

  static forRootAsync(options: DbModuleAsyncOptions): DynamicModule {
    const connectionOptions = DbOptionsModule.forRootAsync(options);
    return {
      module: DbModule,
      global: true,
      imports: [
        connectionOptions,
        TypeOrmModule.forRootAsync({
          imports: [connectionOptions],
          inject: [DB_CONNECTION_OPTIONS],
          useFactory: (resolved: ResolvedDbConnectionOptions) => ({
            ...createDataSourceOptions(resolved),
            retryAttempts: DB_CONNECT_RETRY_ATTEMPTS,
            retryDelay: DB_CONNECT_RETRY_DELAY_MS,
          }),
        }),
      ],
      providers: [
        {
          provide: DbReader,
          inject: [getDataSourceToken(), DB_CONNECTION_OPTIONS, DB_REPLICA_CHECKS],
          useFactory: (dataSource: DataSource, resolved: ResolvedDbConnectionOptions, checks?: ReplicaCheckTuning) =>
            new DbReader(dataSource, resolved, checks),
        },
      ],
      exports: [TypeOrmModule, connectionOptions, DbReader],
    };
  }
}
