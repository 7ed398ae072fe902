import { DataSourceOptions } from 'typeorm';
import { DB_ENTITIES } from './entities/db-entities';
import { DB_MIGRATIONS } from './migrations/db-migrations';

export interface DbConnectionOptions {
  /** `postgres://user:password@host:port/database`: the primary, directly or through PgBouncer. */
  readonly url: string;
  /** Connections in the pool (pg's `max`), per server: the primary's pool, and each replica's. */
  readonly poolSize?: number;
  /**
   * Server-side cap on every statement, so a runaway query cannot hold a connection forever. Applied
   * with `SET LOCAL` in each transaction, never as a connection parameter (PgBouncer refuses those).
   */
  readonly statementTimeoutMs?: number;
  /** Shown in `pg_stat_activity`: which process holds which connection. */
  readonly applicationName?: string;
  /** Streaming replicas builders read from (`DbReader`); none: every read goes to the primary. */
  readonly replicaUrls?: readonly string[];
  /** A replica whose replay is further behind the primary than this serves no reads. */
  readonly replicaMaxLagMs?: number;
  /** How long a fenced read waits for a replica to replay its write before it reads the primary. */
  readonly replicaWaitMs?: number;
  /** A connection that keeps a session (direct, or a session-mode pool), for `LISTEN`; default `url`. */
  readonly listenUrl?: string;
}

// The one statement of these defaults: an app's environment leaves DATABASE_POOL_SIZE,
// DATABASE_STATEMENT_TIMEOUT_MS, DATABASE_REPLICA_MAX_LAG_MS and DATABASE_REPLICA_WAIT_MS unset
// rather than repeat them (libs/platform's env schema cannot import this lib).
export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;
export const DEFAULT_REPLICA_MAX_LAG_MS = 2_000;
export const DEFAULT_REPLICA_WAIT_MS = 500;
/** pg waits forever for an unanswered connect by default; a blackholed host must fail fast too. */
export const CONNECT_TIMEOUT_MS = 5_000;

/** The options with every default filled in and checked: what the rest of the data layer reads. */
export interface ResolvedDbConnectionOptions {
  readonly url: string;
  readonly poolSize: number;
  readonly statementTimeoutMs: number;
  readonly applicationName: string;
  readonly replicaUrls: readonly string[];
  readonly replicaMaxLagMs: number;
  readonly replicaWaitMs: number;
  readonly listenUrl: string;
}

export function resolveDbConnectionOptions(options: DbConnectionOptions): ResolvedDbConnectionOptions {
  const resolved: ResolvedDbConnectionOptions = {
    url: options.url,
    poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
    statementTimeoutMs: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    applicationName: options.applicationName ?? 'worker-pattern',
    replicaUrls: [...(options.replicaUrls ?? [])],
    replicaMaxLagMs: options.replicaMaxLagMs ?? DEFAULT_REPLICA_MAX_LAG_MS,
    replicaWaitMs: options.replicaWaitMs ?? DEFAULT_REPLICA_WAIT_MS,
    listenUrl: options.listenUrl ?? options.url,
  };
  const { poolSize, statementTimeoutMs, replicaMaxLagMs, replicaWaitMs } = resolved;
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new Error(`poolSize must be a positive integer, got ${poolSize}`);
  }
  if (!Number.isInteger(statementTimeoutMs) || statementTimeoutMs < 0) {
    throw new Error(`statementTimeoutMs must be a non-negative integer (0 = no limit), got ${statementTimeoutMs}`);
  }
  if (!Number.isInteger(replicaMaxLagMs) || replicaMaxLagMs < 1) {
    throw new Error(`replicaMaxLagMs must be a positive integer, got ${replicaMaxLagMs}`);
  }
  if (!Number.isInteger(replicaWaitMs) || replicaWaitMs < 0) {
    throw new Error(`replicaWaitMs must be a non-negative integer, got ${replicaWaitMs}`);
  }
  return resolved;
}

/**
 * The one place that says how we talk to Postgres. Schema changes only ever come from migrations:
 * `synchronize` stays off and migrations never run implicitly on connect. Nothing but the user,
 * database and application name goes into the connection's start-up packet: PgBouncer in
 * transaction mode refuses any other parameter (`statement_timeout` included).
 */
export function createDataSourceOptions(options: DbConnectionOptions): DataSourceOptions {
  const { url, poolSize, applicationName } = resolveDbConnectionOptions(options);
  return {
    type: 'postgres',
    url,
    entities: [...DB_ENTITIES],
    migrations: [...DB_MIGRATIONS],
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
    extra: { max: poolSize, application_name: applicationName },
  };
}

/** The environment variables `dbOptionsFromEnv` reads in every app (validated by the app's config schema). */
export const DB_ENV_KEYS = ['DATABASE_URL', 'DATABASE_POOL_SIZE', 'DATABASE_STATEMENT_TIMEOUT_MS'] as const;
/** What a worker reads besides: the replicas builders read from, and the relay's LISTEN connection. */
export const DB_WORKER_ENV_KEYS = [
  ...DB_ENV_KEYS,
  'DATABASE_REPLICA_URLS',
  'DATABASE_REPLICA_MAX_LAG_MS',
  'DATABASE_REPLICA_WAIT_MS',
  'DATABASE_LISTEN_URL',
] as const;

/** The validated variables; one unset is left to this lib's default (DEFAULT_POOL_SIZE…). */
export interface DbEnv {
  readonly DATABASE_URL: string;
  readonly DATABASE_POOL_SIZE?: number | undefined;
  readonly DATABASE_STATEMENT_TIMEOUT_MS?: number | undefined;
}

export interface DbWorkerEnv extends DbEnv {
  readonly DATABASE_REPLICA_URLS: readonly string[];
  readonly DATABASE_REPLICA_MAX_LAG_MS?: number | undefined;
  readonly DATABASE_REPLICA_WAIT_MS?: number | undefined;
  readonly DATABASE_LISTEN_URL?: string | undefined;
}

/**
 * Connection settings from validated env; `applicationName` names the process's connections. A
 * variable left unset stays unset here, so `resolveDbConnectionOptions` gives it this lib's default.
 */
export function dbOptionsFromEnv(env: DbEnv | DbWorkerEnv, applicationName: string): DbConnectionOptions {
  const worker = 'DATABASE_REPLICA_URLS' in env ? env : undefined;
  return {
    url: env.DATABASE_URL,
    poolSize: env.DATABASE_POOL_SIZE,
    statementTimeoutMs: env.DATABASE_STATEMENT_TIMEOUT_MS,
    applicationName,
    ...(worker && {
      replicaUrls: worker.DATABASE_REPLICA_URLS,
      replicaMaxLagMs: worker.DATABASE_REPLICA_MAX_LAG_MS,
      replicaWaitMs: worker.DATABASE_REPLICA_WAIT_MS,
      listenUrl: worker.DATABASE_LISTEN_URL,
    }),
  };
}
