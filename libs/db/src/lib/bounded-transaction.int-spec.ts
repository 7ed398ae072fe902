import { Pool } from 'pg';
import { DataSource } from 'typeorm';
import {
  createTestDatabase,
  LocalPgBouncer,
  PGBOUNCER_MISSING,
  pgBouncerInstalled,
  type TestDatabase,
} from '../testing';
import { cappedTransaction, type DbSession, runBoundedTransaction } from './bounded-transaction';
import { createDataSourceOptions } from './data-source-options';

const SHARED = { host: '127.0.0.1', port: 5432 };

async function eventually(probe: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('bounded transactions (real Postgres, directly and through PgBouncer in transaction mode)', () => {
  let db: TestDatabase;
  let bouncer: LocalPgBouncer;

  beforeAll(async () => {
    if (!pgBouncerInstalled()) throw new Error(PGBOUNCER_MISSING);
    db = await createTestDatabase();
    // One server connection: a setting leaking out of a transaction would show in the next one.
    bouncer = await LocalPgBouncer.create({ fallback: SHARED, poolSize: 1 });
  }, 30_000);

  afterAll(async () => {
    await bouncer?.destroy();
    await db?.drop();
  });

  /** Statements of ours still running on the server (seen directly, never through the pooler). */
  async function running(marker: string): Promise<number> {
    const [row] = await db.dataSource.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE $2`,
      [db.name, `%${marker}%`],
    );
    return row.n;
  }

  describe.each([
    ['directly', () => db.url],
    ['through PgBouncer', () => bouncer.url(db.name)],
  ])('%s', (_, url) => {
    let pool: Pool;
    const session = async (): Promise<DbSession> => {
      const client = await pool.connect();
      return { client, release: (error) => client.release(error ?? false) };
    };

    beforeAll(() => {
      pool = new Pool({ connectionString: url(), max: 1 });
      pool.on('error', () => undefined);
    });

    afterAll(() => pool?.end());

    it('runs the work in one read-only snapshot and commits', async () => {
      const rows = await runBoundedTransaction(
        await session(),
        { statementTimeoutMs: 5000, readOnly: true },
        async (query) => [
          ...(await query<{ n: number }>('SELECT $1::int + 1 AS n', [41])),
          ...(await query<{ n: string }>(`SELECT current_setting('transaction_read_only') AS n`)),
          ...(await query<{ n: string }>(`SELECT current_setting('transaction_isolation') AS n`)),
        ],
      );
      expect(rows).toEqual([{ n: 42 }, { n: 'on' }, { n: 'repeatable read' }]);
    });

    it('leaves no setting behind: the next transaction on the same server connection has the defaults', async () => {
      await runBoundedTransaction(await session(), { statementTimeoutMs: 1234 }, async (query) =>
        expect(await query(`SELECT current_setting('statement_timeout') AS t`)).toEqual([{ t: '1234ms' }]),
      );
      const client = await pool.connect();
      try {
        const { rows } = await client.query(
          `SELECT current_setting('statement_timeout') AS t, current_setting('client_connection_check_interval') AS c`,
        );
        expect(rows).toEqual([{ t: '0', c: '0' }]);
      } finally {
        client.release();
      }
    });

    it('has the server stop a statement that outlives its timeout, and the connection stays usable', async () => {
      const marker = `sleep_timeout_${Math.random().toString(36).slice(2)}`;
      await expect(
        runBoundedTransaction(await session(), { statementTimeoutMs: 300 }, (query) =>
          query(`SELECT pg_sleep(30) AS ${marker}`),
        ),
      ).rejects.toMatchObject({ code: '57014' });
      expect(await running(marker)).toBe(0);
      await expect(
        runBoundedTransaction(await session(), { statementTimeoutMs: 1000 }, (query) => query('SELECT 1 AS one')),
      ).resolves.toEqual([{ one: 1 }]);
    });

    it('on an abort rejects with its reason at once, and the server stops the statement by itself', async () => {
      const marker = `sleep_abort_${Math.random().toString(36).slice(2)}`;
      const controller = new AbortController();
      const reading = runBoundedTransaction(
        await session(),
        { statementTimeoutMs: 60_000, signal: controller.signal },
        (query) => query(`SELECT pg_sleep(30) AS ${marker}`),
      );
      await eventually(async () => (await running(marker)) === 1, 'the statement running');
      controller.abort(new Error('build timed out'));
      await expect(reading).rejects.toThrow('build timed out');
      // No pg_cancel_backend: the closed connection is noticed by the server (client_connection_check_interval).
      await eventually(async () => (await running(marker)) === 0, 'the server stopping the statement');
      // The pool replaced the closed connection.
      await expect(
        runBoundedTransaction(await session(), { statementTimeoutMs: 1000 }, (query) => query('SELECT 2 AS two')),
      ).resolves.toEqual([{ two: 2 }]);
    }, 30_000);

    it('does not query at all when the signal is already aborted', async () => {
      const controller = new AbortController();
      controller.abort(new Error('too late'));
      const work = jest.fn();
      await expect(
        runBoundedTransaction(await session(), { statementTimeoutMs: 1000, signal: controller.signal }, work),
      ).rejects.toThrow('too late');
      expect(work).not.toHaveBeenCalled();
    });

    it('rolls back and reports a failing statement as its own error', async () => {
      await expect(
        runBoundedTransaction(await session(), { statementTimeoutMs: 1000 }, (query) =>
          query('SELECT * FROM no_such_table'),
        ),
      ).rejects.toThrow(/no_such_table/);
      const client = await pool.connect();
      try {
        expect((await client.query(`SELECT 3 AS three`)).rows).toEqual([{ three: 3 }]);
      } finally {
        client.release();
      }
    });

    it('connects a TypeORM DataSource (no start-up parameter a pooler refuses) and caps its transactions', async () => {
      const dataSource = new DataSource(createDataSourceOptions({ url: url(), poolSize: 1, statementTimeoutMs: 200 }));
      await dataSource.initialize();
      try {
        await expect(cappedTransaction(dataSource, 200, (em) => em.query('SELECT pg_sleep(5)'))).rejects.toMatchObject({
          code: '57014',
        });
        const settings = await cappedTransaction(dataSource, 200, (em) =>
          em.query(`SELECT current_setting('statement_timeout') AS t`),
        );
        expect(settings).toEqual([{ t: '200ms' }]);
        expect(await dataSource.query(`SELECT current_setting('statement_timeout') AS t`)).toEqual([{ t: '0' }]);
      } finally {
        await dataSource.destroy();
      }
    });
  });

  it('went through the pooler', async () => {
    expect(await bouncer.transactions(db.name)).toBeGreaterThan(10);
  });
});
