import { DynamicModule, InjectionToken, Module, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  createDataSourceOptions,
  DbConnectionOptions,
  resolveDbConnectionOptions,
  type ResolvedDbConnectionOptions,
} from './data-source-options';
import { LazyDataSource } from './lazy-data-source';
import { DbReader, type ReplicaCheckTuning } from './reads/db-reader';

export interface DbModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  readonly inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** Receives the injected providers, in `inject` order; returns how to connect. */
  readonly useFactory: (...args: never[]) => DbConnectionOptions | Promise<DbConnectionOptions>;
  /** Replica health-check timings for `DbReader` (tests shorten them). */
  readonly replicaChecks?: ReplicaCheckTuning;
}

/** The resolved connection settings (`ResolvedDbConnectionOptions`): statement timeout, LISTEN URL… */
export const DB_CONNECTION_OPTIONS = Symbol('DB_CONNECTION_OPTIONS');

/** A worker without its database is useless: give up within seconds, not after Nest's default 10 × 3 s. */
export const DB_CONNECT_RETRY_ATTEMPTS = 3;
export const DB_CONNECT_RETRY_DELAY_MS = 500;

@Module({})
class DbOptionsModule {}

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
    return {
      module: DbModule,
      global: true,
      imports: options.imports ?? [],
      providers: [
        {
          provide: LazyDataSource,
          inject: options.inject ?? [],
          useFactory: async (...args: unknown[]) => new LazyDataSource(await options.useFactory(...(args as never[]))),
        },
      ],
      exports: [LazyDataSource],
    };
  }

  static forRootAsync(options: DbModuleAsyncOptions): DynamicModule {
    const connectionOptions: DynamicModule = {
      module: DbOptionsModule,
      imports: options.imports ?? [],
      providers: [
        {
          provide: DB_CONNECTION_OPTIONS,
          inject: options.inject ?? [],
          useFactory: async (...args: unknown[]) =>
            resolveDbConnectionOptions(await options.useFactory(...(args as never[]))),
        },
      ],
      exports: [DB_CONNECTION_OPTIONS],
    };
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
          inject: [getDataSourceToken(), DB_CONNECTION_OPTIONS],
          useFactory: (dataSource: DataSource, resolved: ResolvedDbConnectionOptions) =>
            new DbReader(dataSource, resolved, options.replicaChecks),
        },
      ],
      exports: [TypeOrmModule, connectionOptions, DbReader],
    };
  }
}
