import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freeLoopbackPort, LocalServer, serverUser, type SystemUser } from './local-server';

const run = promisify(execFile);

/** Where Debian's `postgresql` package puts the server binaries (the newest version installed). */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const bin = path.join(root, version, 'bin');
    if (existsSync(path.join(bin, 'initdb'))) return bin;
  }
  throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install -y postgresql)');
}

/**
 * A Postgres server of the test's own (initdb/postgres from Debian's packages; as root they run as
 * the `postgres` system user), with trust auth on 127.0.0.1. `createReplica` clones it into a hot
 * standby that streams from it (`pg_basebackup -R`): a real streaming replica, whose replay the test
 * can pause and resume and which it can kill.
 */
export class LocalPostgres extends LocalServer {
  private constructor(
    port: number,
    dir: string,
    private readonly bin: string,
    private readonly user: SystemUser | undefined,
    /** The server this one streams from, for a replica. */
    readonly primary?: LocalPostgres,
  ) {
    super(port, dir);
  }

  static async create(): Promise<LocalPostgres> {
    const bin = postgresBinDir();
    const user = serverUser();
    const dir = LocalPostgres.makeDir(user);
    await run(
      path.join(bin, 'initdb'),
      ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'],
      { cwd: dir, ...user },
    );
    const server = new LocalPostgres(await freeLoopbackPort(), dir, bin, user);
    await server.start();
    return server;
  }

  /** A hot standby streaming from this server, started and ready for read-only queries. */
  async createReplica(): Promise<LocalPostgres> {
    const dir = LocalPostgres.makeDir(this.user);
    // -R writes primary_conninfo and standby.signal; -X stream copies the WAL the backup needs.
    await run(
      path.join(this.bin, 'pg_basebackup'),
      [
        ...['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres'],
        ...['-D', path.join(dir, 'data'), '-R', '-X', 'stream', '-c', 'fast', '--no-sync'],
      ],
      { cwd: dir, ...this.user },
    );
    const replica = new LocalPostgres(await freeLoopbackPort(), dir, this.bin, this.user, this);
    await replica.start();
    return replica;
  }

  private static makeDir(user: SystemUser | undefined): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'wp-pg-'));
    if (user) chownSync(dir, user.uid, user.gid);
    return dir;
  }

  /** The maintenance database's URL; tests create their own databases from it. */
  get adminUrl(): string {
    return this.url('postgres');
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  async start(): Promise<void> {
    this.spawnServer(
      path.join(this.bin, 'postgres'),
      [
        ...['-D', path.join(this.dir, 'data'), '-p', String(this.port), '-k', this.dir],
        ...['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
      ],
      this.user,
    );
    await this.waitUntil(() => this.output.includes('ready to accept'), 'postgres');
  }

  /** Runs one statement on `database` over a short-lived connection and returns its rows. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    database = 'postgres',
  ): Promise<R[]> {
    const client = new Client({ connectionString: this.url(database), application_name: 'wp-test-harness' });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** The WAL position a primary has written (`pg_current_wal_lsn`), or a standby has replayed. */
  async walLsn(): Promise<string> {
    const [row] = await this.query<{ lsn: string }>(
      `SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn`,
    );
    if (!row) throw new Error('no WAL position returned');
    return row.lsn;
  }

  /** On a standby: stops applying WAL (it keeps receiving it), so its data falls behind. */
  async pauseReplay(): Promise<void> {
    await this.query('SELECT pg_wal_replay_pause()');
    // pg_wal_replay_pause only requests the pause; wait until replay has actually stopped.
    await this.waitUntil(
      async () =>
        (await this.query<{ state: string }>('SELECT pg_get_wal_replay_pause_state() AS state'))[0]?.state === 'paused',
      'replay pause',
    );
  }

  async resumeReplay(): Promise<void> {
    await this.query('SELECT pg_wal_replay_resume()');
  }

  /** On a standby: resolves once it has replayed everything its primary had written when called. */
  async caughtUp(ms = 20_000): Promise<void> {
    if (!this.primary) throw new Error('caughtUp is for replicas');
    const target = await this.primary.walLsn();
    await this.waitUntil(
      async () =>
        (await this.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [target]))[0]?.ok ===
        true,
      `replica replaying up to ${target}`,
      ms,
    );
  }
}
