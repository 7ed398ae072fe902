import { createTestDatabase, TestDatabase } from '../testing';
import { queryWithAbort } from './query-with-abort';

describe('queryWithAbort (real Postgres)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  }, 30_000);

  afterAll(() => db?.drop());

  async function runningSleeps(): Promise<number> {
    const [row] = await db.dataSource.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(30)%' AND state = 'active'`,
    );
    return row.n;
  }

  it('returns the rows of a query that is not aborted', async () => {
    const rows = await queryWithAbort<Array<{ n: number }>>(
      db.dataSource,
      new AbortController().signal,
      'SELECT $1::int + 1 AS n',
      [41],
    );
    expect(rows).toEqual([{ n: 42 }]);
  });

  it('cancels the statement on the server when the signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const query = queryWithAbort(db.dataSource, controller.signal, 'SELECT pg_sleep(30)');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await runningSleeps()).toBe(1);
    controller.abort(new Error('build timed out'));
    await expect(query).rejects.toThrow('build timed out');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await runningSleeps()).toBe(0);
  }, 10_000);

  it('does not query at all when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    await expect(queryWithAbort(db.dataSource, controller.signal, 'SELECT pg_sleep(30)')).rejects.toThrow('too late');
    expect(await runningSleeps()).toBe(0);
  });

  it('still reports a failing query as its own error', async () => {
    await expect(
      queryWithAbort(db.dataSource, new AbortController().signal, 'SELECT * FROM no_such_table'),
    ).rejects.toThrow(/no_such_table/);
  });
});
