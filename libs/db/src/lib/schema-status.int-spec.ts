import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../testing';
import { createDataSourceOptions } from './data-source-options';
import { DB_MIGRATIONS } from './migrations/db-migrations';
import { runMigrations, schemaStatus } from './schema-admin';

const ALL = DB_MIGRATIONS.map((migration) => migration.name);

describe('migrations under a lock, and the schema check (real Postgres, a database of its own)', () => {
  let db: TestDatabase;
  let other: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    other = await new DataSource(
      createDataSourceOptions({ url: db.url, poolSize: 1, applicationName: 'worker-pattern-test-other' }),
    ).initialize();
  }, 30_000);

  afterAll(async () => {
    await other?.destroy();
    await db?.drop();
  });

  it('finds every migration pending in an empty database, without creating anything', async () => {
    expect(await schemaStatus(db.dataSource)).toEqual({ pending: ALL, unknown: [] });
    const [{ present }] = await db.dataSource.query(`SELECT to_regclass('migrations') IS NOT NULL AS present`);
    expect(present).toBe(false);
  });

  it('applies each migration exactly once when two runs start together (they queue on the advisory lock)', async () => {
    const [a, b] = await Promise.all([runMigrations(db.dataSource), runMigrations(other)]);
    expect([...a, ...b]).toEqual(ALL);
    expect(await schemaStatus(db.dataSource)).toEqual({ pending: [], unknown: [] });
  });

  it('names the migration a database lacks, and one it has that this build does not know', async () => {
    const newest = ALL[ALL.length - 1];
    await db.dataSource.query('DELETE FROM migrations WHERE name = $1', [newest]);
    await db.dataSource.query(
      `INSERT INTO migrations (timestamp, name) VALUES (9999999999999, 'FromANewerRelease9999999999999')`,
    );
    expect(await schemaStatus(db.dataSource)).toEqual({
      pending: [newest],
      unknown: ['FromANewerRelease9999999999999'],
    });
  });
});
