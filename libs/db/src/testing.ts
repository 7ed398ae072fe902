import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { createDataSourceOptions } from './lib/data-source-options';
import { LazyDataSource } from './lib/lazy-data-source';
import { dropDatabase, quoteIdentifier, urlForDatabase, withMaintenanceClient } from './lib/database-admin';
import { runMigrations } from './lib/schema-admin';
import { seed, SeedResult } from './lib/seed/seed';
import { SeedOptions } from './lib/seed/seed-options';

export * from './lib/testing/local-server';
export * from './lib/testing/local-postgres';
export * from './lib/testing/local-pgbouncer';

/**
 * Test helpers only (`@worker-pattern/db/testing`): a throwaway, migrated database per test file on
 * the server at `TEST_DATABASE_ADMIN_URL`, so tests run against real Postgres and in parallel
 * without seeing each other's rows.
 */
export const DEFAULT_TEST_DATABASE_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  readonly dataSource: DataSource;
  /** What the seed wrote, when the database was seeded. */
  readonly seeded: SeedResult | null;
  /** Closes the data source and drops the database, even if clients are still connected. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** Seed after migrating (`{}` for the default sizes); default: no seed. */
  readonly seed?: SeedOptions | false;
  /** The server's maintenance-database URL; default `TEST_DATABASE_ADMIN_URL` or the shared server. */
  readonly adminUrl?: string;
  /** Apply the migrations (default); false leaves the database empty. */
  readonly migrate?: boolean;
}

export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const adminUrl = options.adminUrl ?? (process.env['TEST_DATABASE_ADMIN_URL'] || DEFAULT_TEST_DATABASE_ADMIN_URL);
  const name = `wp_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const url = urlForDatabase(adminUrl, name);
  await withMaintenanceClient(adminUrl, (client) => client.query(`CREATE DATABASE ${quoteIdentifier(name)}`));
  const dataSource = new DataSource(
    createDataSourceOptions({ url, poolSize: 4, applicationName: 'worker-pattern-test' }),
  );
  const drop = async (): Promise<void> => {
    if (dataSource.isInitialized) {
      await dataSource.destroy();
    }
    await dropDatabase(url);
  };
  try {
    await dataSource.initialize();
    if (options.migrate !== false) await runMigrations(dataSource);
    const seeded = options.seed ? await seed(dataSource, options.seed) : null;
    return { url, name, dataSource, seeded, drop };
  } catch (error) {
    await drop();
    throw error;
  }
}

/**
 * A LazyDataSource on `url`, started as Nest starts it (it connects in the background), returned once
 * its first connection is up.
 */
export async function startLazyDataSource(url: string, timeoutMs = 10_000): Promise<LazyDataSource> {
  const lazy = new LazyDataSource({ url });
  lazy.onModuleInit();
  for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 50))) {
    try {
      lazy.get();
      return lazy;
    } catch (error) {
      if (Date.now() - started > timeoutMs) {
        await lazy.onApplicationShutdown();
        throw new Error(`LazyDataSource not up within ${timeoutMs} ms: ${(error as Error).message}`);
      }
    }
  }
}
