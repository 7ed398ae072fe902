import { DEFAULT_TEST_DATABASE_ADMIN_URL } from '../testing';
import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabaseExists, urlForDatabase, withMaintenanceClient } from './database-admin';

const adminUrl = process.env['TEST_DATABASE_ADMIN_URL'] || DEFAULT_TEST_DATABASE_ADMIN_URL;

async function exists(name: string): Promise<boolean> {
  return withMaintenanceClient(
    adminUrl,
    async (client) => (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1,
  );
}

describe('database administration (real Postgres)', () => {
  // A name that only survives if it is quoted correctly.
  const name = `wp_test_${process.pid}_${randomBytes(4).toString('hex')} "odd"; name`;
  const url = urlForDatabase(adminUrl, name);

  afterAll(() => dropDatabase(url));

  it('creates a missing database once, then reports that it exists', async () => {
    expect(await exists(name)).toBe(false);
    expect(await ensureDatabaseExists(url)).toBe(true);
    expect(await exists(name)).toBe(true);
    expect(await ensureDatabaseExists(url)).toBe(false);
  });

  it('tolerates concurrent creators', async () => {
    await dropDatabase(url);
    const results = await Promise.all([
      ensureDatabaseExists(url),
      ensureDatabaseExists(url),
      ensureDatabaseExists(url),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await exists(name)).toBe(true);
  });

  it('drops the database', async () => {
    await dropDatabase(url);
    expect(await exists(name)).toBe(false);
  });
});
