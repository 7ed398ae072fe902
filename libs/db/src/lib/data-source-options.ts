import { DataSourceOptions } from 'typeorm';
import { DB_ENTITIES } from './entities/db-entities';
import { DB_MIGRATIONS } from './migrations/db-migrations';

export interface DbConnectionOptions {
  /** `postgres://user:password@host:port/database` */
  readonly url: string;
  /** Connections in the pool (pg's `max`). */
  readonly poolSize?: number;
  /** Server-side cap on every statement, so a runaway query cannot hold a connection forever. */
  readonly statementTimeoutMs?: number;
  /** Shown in `pg_stat_activity`: which process holds which connection. */
  readonly applicationName?: string;
}

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
/** pg waits forever for an unanswered connect by default; a blackholed host must fail fast too. */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * The one place that says how we talk to Postgres. Schema changes only ever come from migrations:
 * `synchronize` stays off and migrations never run implicitly on connect.
 */
export function createDataSourceOptions(options: DbConnectionOptions): DataSourceOptions {
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new Error(`poolSize must be a positive integer, got ${poolSize}`);
  }
  if (!Number.isInteger(statementTimeoutMs) || statementTimeoutMs < 0) {
    throw new Error(`statementTimeoutMs must be a non-negative integer (0 = no limit), got ${statementTimeoutMs}`);
  }
  return {
    type: 'postgres',
    url: options.url,
    entities: [...DB_ENTITIES],
    migrations: [...DB_MIGRATIONS],
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
    extra: {
      max: poolSize,
      statement_timeout: statementTimeoutMs,
      application_name: options.applicationName ?? 'worker-pattern',
    },
  };
}

/** The environment variables `dbOptionsFromEnv` reads (validated by the app's config schema). */
export const DB_ENV_KEYS = ['DATABASE_URL', 'DATABASE_POOL_SIZE', 'DATABASE_STATEMENT_TIMEOUT_MS'] as const;

export interface DbEnv {
  readonly DATABASE_URL: string;
  readonly DATABASE_POOL_SIZE: number;
  readonly DATABASE_STATEMENT_TIMEOUT_MS: number;
}

/** Connection settings from validated env; `applicationName` names the process's connections. */
export function dbOptionsFromEnv(env: DbEnv, applicationName: string): DbConnectionOptions {
  return {
    url: env.DATABASE_URL,
    poolSize: env.DATABASE_POOL_SIZE,
    statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
    applicationName,
  };
}
