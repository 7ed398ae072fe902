import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { cappedTransaction } from './bounded-transaction';
import { createDataSourceOptions, type DbConnectionOptions, resolveDbConnectionOptions } from './data-source-options';

/** Postgres is not reachable (yet): the HTTP layer answers 503. */
export class DatabaseUnavailableError extends Error {
  constructor(reason: string) {
    super(`database unavailable: ${reason}`);
    this.name = 'DatabaseUnavailableError';
  }
}

const RETRY_MS = 2000;

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH']);

/**
 * Whether a query failed because Postgres cannot be reached (or is shutting down) rather than
 * because of the query: SQLSTATE class 08 (connection exception), 57P01–57P03 (shutdown, cannot
 * connect now), socket errors, and pg's "Connection terminated".
 */
export function isDatabaseConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || /^57P0[1-3]$/.test(code) || CONNECTION_CODES.has(code)))
    return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(error.message);
}

/**
 * A DataSource for a process whose main job does not need Postgres (the gateway serves pages from
 * Redis alone): it starts without the database and connects in the background, retrying, so reads
 * keep working while Postgres is down; only the writes that need it fail, with 503.
 */
export class LazyDataSource implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LazyDataSource.name);
  private readonly dataSource: DataSource;
  private readonly statementTimeoutMs: number;
  private lastError = 'not connected yet';
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(options: DbConnectionOptions) {
    this.dataSource = new DataSource(createDataSourceOptions(options));
    this.statementTimeoutMs = resolveDbConnectionOptions(options).statementTimeoutMs;
  }

  onModuleInit(): void {
    void this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }

  /** The DataSource, or `DatabaseUnavailableError` while it has never connected. */
  get(): DataSource {
    if (!this.dataSource.isInitialized) throw new DatabaseUnavailableError(this.lastError);
    return this.dataSource;
  }

  /**
   * One transaction with every statement capped at the configured statement timeout (`SET LOCAL`,
   * so it holds through PgBouncer); `DatabaseUnavailableError` while never connected.
   */
  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return cappedTransaction(this.get(), this.statementTimeoutMs, work);
  }

  private async connect(): Promise<void> {
    try {
      await this.dataSource.initialize();
      this.logger.log('connected to Postgres');
    } catch (error) {
      this.lastError = (error as Error).message;
      this.logger.warn(`Postgres not reachable (${this.lastError}); retrying in ${RETRY_MS} ms`);
      if (!this.stopped) this.timer = setTimeout(() => void this.connect(), RETRY_MS);
    }
  }
}
