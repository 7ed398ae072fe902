import { register } from 'prom-client';
import { DataSource } from 'typeorm';
import {
  createTestDatabase,
  LocalPgBouncer,
  LocalPostgres,
  PGBOUNCER_MISSING,
  pgBouncerInstalled,
  type TestDatabase,
} from '../../testing';
import { createDataSourceOptions, resolveDbConnectionOptions } from '../data-source-options';
import { DbReader, type ReadContext } from './db-reader';

const CHECKS = { checkIntervalMs: 100, checkTimeoutMs: 500, fencePollMs: 10 };

async function eventually(probe: () => Promise<boolean> | boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function sample(metric: string, labels: Record<string, string>): Promise<number> {
  const found = (await register.getSingleMetric(metric)?.get())?.values.find((v) =>
    Object.entries(labels).every(([k, l]) => v.labels[k] === l),
  );
  return found?.value ?? 0;
}

const reads = (server: string) => sample('db_reads_total', { server });
const fallbacks = (reason: string) => sample('db_read_fallbacks_total', { reason });

/** Where a read ran and what it saw: the work every test reads with. */
interface Seen {
  readonly standby: boolean;
  readonly notes: string[];
}

const seeNotes = (query: (sql: string) => Promise<Array<Record<string, unknown>>>) =>
  (async (): Promise<Seen> => {
    const [{ standby }] = (await query('SELECT pg_is_in_recovery() AS standby')) as Array<{ standby: boolean }>;
    const notes = (await query('SELECT body FROM notes ORDER BY id')) as Array<{ body: string }>;
    return { standby, notes: notes.map((n) => n.body) };
  })();

describe('DbReader with a real streaming replica, through PgBouncer in transaction mode', () => {
  let primary: LocalPostgres;
  let replica: LocalPostgres;
  let bouncer: LocalPgBouncer;
  let db: TestDatabase;
  let pooled: DataSource;
  let reader: DbReader;

  const ctx = (extra: Partial<ReadContext> = {}): ReadContext => ({
    signal: new AbortController().signal,
    timeoutMs: 10_000,
    ...extra,
  });
  const read = (extra: Partial<ReadContext> = {}) => reader.read(ctx(extra), seeNotes);

  /** A write on the primary and the WAL position a relay would fence it with. */
  async function write(body: string): Promise<string> {
    await db.dataSource.query('INSERT INTO notes (body) VALUES ($1)', [body]);
    const [{ lsn }] = await db.dataSource.query('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    return lsn;
  }

  function newReader(replicaUrls: string[], overrides: { replicaMaxLagMs?: number; replicaWaitMs?: number } = {}) {
    return new DbReader(
      pooled,
      resolveDbConnectionOptions({
        url: bouncer.url(db.name),
        poolSize: 4,
        replicaUrls,
        replicaMaxLagMs: overrides.replicaMaxLagMs ?? 60_000,
        replicaWaitMs: overrides.replicaWaitMs ?? 300,
        applicationName: 'db-reader-spec',
      }),
      CHECKS,
    );
  }

  beforeAll(async () => {
    if (!pgBouncerInstalled()) throw new Error(PGBOUNCER_MISSING);
    primary = await LocalPostgres.create();
    replica = await primary.createReplica();
    db = await createTestDatabase({ adminUrl: primary.adminUrl });
    await db.dataSource.query('CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)');
    await write('first');
    bouncer = await LocalPgBouncer.create({
      fallback: { host: '127.0.0.1', port: primary.port },
      databases: { replica_db: { host: '127.0.0.1', port: replica.port, dbname: db.name } },
    });
    pooled = new DataSource(createDataSourceOptions({ url: bouncer.url(db.name), poolSize: 4 }));
    await pooled.initialize();
    await replica.caughtUp();
    reader = newReader([bouncer.url('replica_db')]);
    await reader.monitor!.checked();
  }, 60_000);

  afterAll(async () => {
    await reader?.onApplicationShutdown();
    await pooled?.destroy();
    await db?.drop().catch(() => undefined);
    await bouncer?.destroy();
    await replica?.destroy();
    await primary?.destroy();
  });

  it('sends reads without a pending write to the healthy replica', async () => {
    const before = await reads('replica-1');
    const seen = await read();
    expect(seen).toEqual({ standby: true, notes: ['first'] });
    expect(await reads('replica-1')).toBe(before + 1);
  });

  describe('with replay paused', () => {
    beforeAll(() => replica.pauseReplay());
    afterAll(() => replica.resumeReplay());

    it('never answers a fenced read from a replica that has not replayed the write: waits, then reads the primary', async () => {
      const lsn = await write('second');
      const [primaryBefore, timeoutsBefore] = [await reads('primary'), await fallbacks('fence_timeout')];
      const seen = await read({ minLsn: lsn });
      expect(seen).toEqual({ standby: false, notes: ['first', 'second'] });
      expect(await reads('primary')).toBe(primaryBefore + 1);
      expect(await fallbacks('fence_timeout')).toBe(timeoutsBefore + 1);
      // A read with no pending write may still use the replica (it lags within the bound).
      expect(await read()).toEqual({ standby: true, notes: ['first'] });
    });

    it('answers from the replica once it replays the write while the read waits', async () => {
      const lsn = await write('third');
      const waiting = newReader([bouncer.url('replica_db')], { replicaWaitMs: 10_000 });
      try {
        await waiting.monitor!.checked();
        const reading = waiting.read(ctx({ minLsn: lsn }), seeNotes);
        await new Promise((r) => setTimeout(r, 300));
        await replica.resumeReplay();
        expect(await reading).toEqual({ standby: true, notes: ['first', 'second', 'third'] });
      } finally {
        await replica.pauseReplay();
        await waiting.onApplicationShutdown();
      }
    });
  });

  it('goes back to the replica once replay resumes', async () => {
    const lsn = await write('fourth');
    await replica.caughtUp();
    const before = await reads('replica-1');
    expect(await read({ minLsn: lsn })).toEqual({ standby: true, notes: ['first', 'second', 'third', 'fourth'] });
    expect(await reads('replica-1')).toBe(before + 1);
  });

  it('takes a replica that lags past the bound out of rotation, and back once it catches up', async () => {
    const strict = newReader([bouncer.url('replica_db')], { replicaMaxLagMs: 300 });
    try {
      await strict.monitor!.checked();
      expect((await strict.read(ctx(), seeNotes)).standby).toBe(true);
      await replica.pauseReplay();
      await write('fifth');
      await eventually(() => !strict.monitor!.replicas[0]!.up, 'the replica out of rotation');
      const before = await fallbacks('no_healthy_replica');
      expect(await strict.read(ctx(), seeNotes)).toMatchObject({ standby: false });
      expect(await fallbacks('no_healthy_replica')).toBe(before + 1);
      await replica.resumeReplay();
      await eventually(() => strict.monitor!.replicas[0]!.up, 'the replica back in rotation');
      expect(await strict.read(ctx(), seeNotes)).toMatchObject({ standby: true });
    } finally {
      await replica.resumeReplay();
      await strict.onApplicationShutdown();
    }
  });

  it('does not retry a failing query elsewhere: only replica failures move a read', async () => {
    const primaryBefore = await reads('primary');
    await expect(reader.read(ctx(), (query) => query('SELECT * FROM no_such_table'))).rejects.toThrow(/no_such_table/);
    expect(await reads('primary')).toBe(primaryBefore);
  });

  it('stops a read at its budget on the server, wherever it runs', async () => {
    await expect(reader.read(ctx({ timeoutMs: 300 }), (query) => query('SELECT pg_sleep(30)'))).rejects.toMatchObject({
      code: '57014',
    });
  });

  describe('a replica killed mid-read', () => {
    let doomed: LocalPostgres;
    let doomedBouncer: LocalPgBouncer;

    beforeEach(async () => {
      doomed = await primary.createReplica();
      doomedBouncer = await LocalPgBouncer.create({
        fallback: { host: '127.0.0.1', port: doomed.port },
      });
    }, 30_000);

    afterEach(async () => {
      await doomedBouncer?.destroy();
      await doomed?.destroy();
    });

    it.each([
      ['directly', () => doomed.url(db.name)],
      [
        'through PgBouncer (which holds queries for a dead server instead of failing them)',
        () => doomedBouncer.url(db.name),
      ],
    ])(
      '%s: the read runs again on the primary and succeeds',
      async (_, url) => {
        const fragile = newReader([url()]);
        try {
          await fragile.monitor!.checked();
          await eventually(() => fragile.monitor!.replicas[0]!.up, 'the replica serving');
          let attempts = 0;
          const reading = fragile.read(ctx(), async (query) => {
            attempts += 1;
            await query('SELECT pg_sleep(2)');
            return seeNotes(query);
          });
          await eventually(() => attempts === 1, 'the read on the replica');
          await new Promise((r) => setTimeout(r, 200));
          await doomed.kill();
          const seen = await reading;
          expect(seen.standby).toBe(false);
          expect(attempts).toBe(2);
          // Later reads go to the primary without trying the dead replica.
          expect((await fragile.read(ctx(), seeNotes)).standby).toBe(false);
        } finally {
          await fragile.onApplicationShutdown();
        }
      },
      30_000,
    );
  });
});
