import { chownSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freeLoopbackPort, LocalServer, serverUser, type SystemUser } from './local-server';

/** Debian's `pgbouncer` package installs the binary here; `PGBOUNCER_PATH` points elsewhere. */
export const PGBOUNCER = process.env['PGBOUNCER_PATH'] ?? '/usr/sbin/pgbouncer';

/** Whether PgBouncer is installed, for tests that say what to install rather than fail obscurely. */
export function pgBouncerInstalled(): boolean {
  return existsSync(PGBOUNCER);
}

export const PGBOUNCER_MISSING = `${PGBOUNCER} not found: install Debian's PgBouncer (apt-get install -y pgbouncer) or set PGBOUNCER_PATH`;

export interface PgBouncerServer {
  readonly host: string;
  readonly port: number;
  /** The real database name on that server, when the alias differs from it. */
  readonly dbname?: string;
}

export interface LocalPgBouncerOptions {
  /** Where any database name not listed in `databases` goes (PgBouncer's `*` entry). */
  readonly fallback: PgBouncerServer;
  /** Named entries: alias → server (and database), e.g. a replica under `<db>_replica`. */
  readonly databases?: Readonly<Record<string, PgBouncerServer>>;
  /** Server connections per database and user (`default_pool_size`). */
  readonly poolSize?: number;
  /**
   * How long a query may wait for a server connection (`query_wait_timeout`, s). PgBouncer's default,
   * 120 s, turns a Postgres outage into two-minute hangs; below the apps' build and request budgets
   * it surfaces as an error (08P01) the apps treat as "database unavailable". Default 5.
   */
  readonly queryWaitTimeoutS?: number;
}

/**
 * A real PgBouncer in transaction mode, the pooler production puts in front of Postgres: a server
 * connection belongs to a client only for one transaction, so session state, `LISTEN`, named
 * prepared statements and cancellation by backend pid all break through it. Run from a generated
 * ini on a free port of 127.0.0.1 (never the system service), as the `postgres` user when root.
 */
export class LocalPgBouncer extends LocalServer {
  private constructor(
    port: number,
    dir: string,
    private readonly user: SystemUser | undefined,
  ) {
    super(port, dir);
  }

  static async create(options: LocalPgBouncerOptions): Promise<LocalPgBouncer> {
    if (!pgBouncerInstalled()) throw new Error(PGBOUNCER_MISSING);
    const user = serverUser();
    const dir = mkdtempSync(path.join(tmpdir(), 'wp-pgbouncer-'));
    if (user) chownSync(dir, user.uid, user.gid);
    const port = await freeLoopbackPort();
    const entry = (server: PgBouncerServer) =>
      `host=${server.host} port=${server.port}${server.dbname ? ` dbname=${server.dbname}` : ''}`;
    const databases = Object.entries(options.databases ?? {}).map(([alias, server]) => `${alias} = ${entry(server)}`);
    writeFileSync(path.join(dir, 'users.txt'), '"postgres" ""\n');
    writeFileSync(
      path.join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        ...databases,
        `* = ${entry(options.fallback)}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        // No Unix socket: it would collide with the system's, and nothing here uses it.
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${path.join(dir, 'users.txt')}`,
        'admin_users = postgres',
        'pool_mode = transaction',
        `default_pool_size = ${options.poolSize ?? 20}`,
        'max_client_conn = 800',
        // Nothing in ignore_startup_parameters: a client sending session settings must fail loudly.
        // Tests restart servers: retry a failed server login after 1 s, not the default 15 s.
        'server_login_retry = 1',
        'server_connect_timeout = 5',
        `query_wait_timeout = ${options.queryWaitTimeoutS ?? 5}`,
        'log_connections = 0',
        'log_disconnections = 0',
        '',
      ].join('\n'),
    );
    const bouncer = new LocalPgBouncer(port, dir, user);
    await bouncer.start();
    return bouncer;
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  async start(): Promise<void> {
    this.spawnServer(PGBOUNCER, [path.join(this.dir, 'pgbouncer.ini')], this.user);
    await this.waitUntil(() => this.output.includes(`listening on 127.0.0.1:${this.port}`), 'pgbouncer');
  }

  /**
   * Transactions PgBouncer has run for `database` (its `SHOW STATS`): proof that traffic went
   * through the pooler rather than around it.
   */
  async transactions(database: string): Promise<number> {
    const client = new Client({ connectionString: this.url('pgbouncer') });
    await client.connect();
    try {
      const { rows } = await client.query<{ database: string; total_xact_count: string }>('SHOW STATS');
      return Number(rows.find((row) => row.database === database)?.total_xact_count ?? 0);
    } finally {
      await client.end();
    }
  }
}
