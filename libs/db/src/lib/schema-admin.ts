import { DataSource, MigrationExecutor, QueryRunner } from 'typeorm';
import { quoteIdentifier } from './database-admin';

/**
 * The Postgres advisory lock every migration run holds: two runs at once (the migration Jobs of two
 * releases, a Job and `npm start`) queue instead of racing to create the same tables. Any constant
 * works as long as nothing else in the database uses it.
 */
export const MIGRATION_LOCK_KEY = 0x77705f6d69677261n; // "wp_migra"

/**
 * Applies pending migrations, each in its own transaction; returns the names of those applied. Runs
 * on one session that holds the migration lock throughout (session-level: through PgBouncer it needs
 * a direct connection or a session-mode pool, as docs/deploy.md says for the migration Job).
 */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  return withMigrationLock(dataSource, async (queryRunner) => {
    const executor = new MigrationExecutor(dataSource, queryRunner);
    executor.transaction = 'each';
    const applied = await executor.executePendingMigrations();
    return applied.map((migration) => migration.name);
  });
}

async function withMigrationLock<T>(dataSource: DataSource, fn: (queryRunner: QueryRunner) => Promise<T>): Promise<T> {
  const queryRunner = dataSource.createQueryRunner();
  await queryRunner.connect();
  try {
    await queryRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      return await fn(queryRunner);
    } finally {
      await queryRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]);
    }
  } finally {
    await queryRunner.release();
  }
}

/** How the database's schema compares with the migrations this build knows. */
export interface SchemaStatus {
  /** Migrations this build has that the database has not applied: the app must not run yet. */
  readonly pending: readonly string[];
  /** Migrations the database has applied that this build does not know (a newer release ran them). */
  readonly unknown: readonly string[];
}

/** Reads the migration history without writing anything (no migrations table is created). */
export async function schemaStatus(dataSource: DataSource): Promise<SchemaStatus> {
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const known = dataSource.migrations.map((migration) => migration.name ?? migration.constructor.name);
  const [{ present }] = await dataSource.query<Array<{ present: boolean }>>(
    'SELECT to_regclass($1) IS NOT NULL AS present',
    [quoteIdentifier(table)],
  );
  const rows = present
    ? await dataSource.query<Array<{ name: string }>>(`SELECT name FROM ${quoteIdentifier(table)}`)
    : [];
  const applied = new Set(rows.map((row) => row.name));
  return {
    pending: known.filter((name) => !applied.has(name)),
    unknown: [...applied].filter((name) => !known.includes(name)).sort(),
  };
}

/** "Empty" means no users: the seed, and `npm start`'s seed-if-empty, key off this. */
export async function isDatabaseEmpty(dataSource: DataSource): Promise<boolean> {
  const [row] = await dataSource.query<Array<{ empty: boolean }>>('SELECT NOT EXISTS (SELECT 1 FROM users) AS empty');
  return row.empty;
}

/**
 * Drops every table, data and migration history included, then migrates from scratch.
 * Destructive by design: callers decide whether the environment allows it.
 */
export async function resetSchema(dataSource: DataSource): Promise<string[]> {
  await dataSource.query('DROP SCHEMA IF EXISTS public CASCADE');
  await dataSource.query('CREATE SCHEMA public');
  return runMigrations(dataSource);
}
