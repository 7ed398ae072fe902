import { DataSource } from 'typeorm';

/** Applies pending migrations, each in its own transaction; returns the names of those applied. */
export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  return applied.map((migration) => migration.name);
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
