import { urlForDatabase, withMaintenanceClient } from '@worker-pattern/db';
import { createTestDatabase, TestDatabase } from '@worker-pattern/db/testing';
import { runCli } from './cli';

/**
 * `db-cli migrate --check`, the init container of every app Deployment (k8s/3x-*.yaml): against a real
 * Postgres database of its own, it fails while the schema lacks a migration of this release and
 * passes once `db-cli migrate` (the migration Job) has run, so the apps wait for the schema.
 */
describe('db-cli migrate --check (real Postgres)', () => {
  let db: TestDatabase;
  const output: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  }, 30_000);

  afterAll(() => db?.drop());

  beforeEach(() => {
    output.length = 0;
    jest.spyOn(console, 'log').mockImplementation((line: string) => void output.push(line));
    jest.spyOn(console, 'error').mockImplementation((line: string) => void output.push(line));
  });

  afterEach(() => jest.restoreAllMocks());

  const cli = (...argv: string[]) => runCli(argv, { DATABASE_URL: db.url, NODE_ENV: 'production' });

  it('fails on an empty database, naming what is missing, and changes nothing', async () => {
    expect(await cli('migrate', '--check')).toBe(1);
    expect(output.join('\n')).toMatch(
      /lacks \d+ migration\(s\): InitialSchema\d+, Outbox\d+, .+ that this release needs/,
    );
    const [{ present }] = await db.dataSource.query(`SELECT to_regclass('migrations') IS NOT NULL AS present`);
    expect(present).toBe(false);
  });

  it('passes once the migration ran', async () => {
    expect(await cli('migrate')).toBe(0);
    expect(await cli('migrate', '--check')).toBe(0);
    expect(output).toContain('The schema has every migration this release needs.');
  });

  it('fails again when the schema is one migration behind this release (an image rolled forward without its Job)', async () => {
    await db.dataSource.query(`DELETE FROM migrations WHERE name LIKE 'Outbox%'`);
    expect(await cli('migrate', '--check')).toBe(1);
    expect(output.join('\n')).toMatch(/lacks 1 migration\(s\): Outbox\d+/);
  });

  it('fails on a database that does not exist, without creating it', async () => {
    const name = `${db.name}_missing`;
    await expect(runCli(['migrate', '--check'], { DATABASE_URL: urlForDatabase(db.url, name) })).rejects.toThrow(
      /does not exist/,
    );
    const rows = await withMaintenanceClient(db.url, (client) =>
      client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]),
    );
    expect(rows.rowCount).toBe(0);
  });

  it('refuses --check with another command', async () => {
    expect(await cli('seed', '--check')).toBe(2);
    expect(output.join('\n')).toMatch(/--check belongs to migrate/);
  });
});
