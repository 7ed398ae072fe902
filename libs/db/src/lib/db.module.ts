import { DynamicModule, InjectionToken, Module, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { createDataSourceOptions, DbConnectionOptions } from './data-source-options';
import { LazyDataSource } from './lazy-data-source';

export interface DbModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  readonly inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** Receives the injected providers, in `inject` order; returns how to connect. */
  readonly useFactory: (...args: never[]) => DbConnectionOptions | Promise<DbConnectionOptions>;
}

/** A worker without its database is useless: give up within seconds, not after Nest's default 10 × 3 s. */
export const DB_CONNECT_RETRY_ATTEMPTS = 3;
export const DB_CONNECT_RETRY_DELAY_MS = 500;

/**
 * The TypeORM root module for our apps: entities, migrations and pool settings come from
 * `createDataSourceOptions`, so an app only says where the database is. Injects `DataSource`
 * (`@InjectDataSource()`) and repositories globally.
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
    return {
      module: DbModule,
      imports: [
        TypeOrmModule.forRootAsync({
          imports: options.imports,
          inject: options.inject,
          useFactory: async (...args: unknown[]) => ({
            ...createDataSourceOptions(await options.useFactory(...(args as never[]))),
            retryAttempts: DB_CONNECT_RETRY_ATTEMPTS,
            retryDelay: DB_CONNECT_RETRY_DELAY_MS,
          }),
        }),
      ],
      exports: [TypeOrmModule],
    };
  }
}
