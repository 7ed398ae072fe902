import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { builtApp } from '@worker-pattern/platform/processes';
import { APP_NAMES, type AppName, FRAGMENT_WORKER_NAMES, type FragmentWorkerName } from '@worker-pattern/registry';
import { BenchProcess, freePort, runToCompletion, WORKSPACE_ROOT, waitForHttpOk } from './processes';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const ADMIN_DATABASE_URL =
  process.env['BENCH_DATABASE_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const JWT_SECRET = `bench-secret-${randomBytes(16).toString('hex')}`;

/** The registry's apps (libs/registry/src/lib/apps.ts): its fragment workers, in the dashboard's order. */
export const FRAGMENT_WORKERS: readonly FragmentWorkerName[] = FRAGMENT_WORKER_NAMES;
export const STACK_APPS: readonly AppName[] = APP_NAMES;
export type StackApp = AppName;
export type BenchApp = 'fat-controller' | 'floor' | 'bench-worker' | 'raw-bull-worker' | 'slow-profile-worker';

/** A process the bench started, with where it listens. */
export interface RunningApp {
  readonly name: string;
  readonly proc: BenchProcess;
  readonly port: number;
  readonly url: string;
}

/**
 * Everything the bench runs against, made and removed by the bench itself, the way the e2e tests
 * do it (apps/e2e/src/support/stack.ts): a database of its own seeded by the built db-cli, a Redis
 * key prefix and Bull prefix no other run uses, and the built apps as separate processes on free
 * loopback ports, with LOG_LEVEL=warn. `cleanup()` stops them, deletes the keys and drops the database.
 */
export class BenchStack {
  readonly id = randomBytes(4).toString('hex');
  readonly keyPrefix = `bench:${this.id}:`;
  readonly bullPrefix = `bench:${this.id}:bull`;
  readonly databaseName = `wp_bench_${this.id}`;
  readonly databaseUrl: string;
  readonly redis: Redis;
  private readonly running = new Set<RunningApp>();
  private seeded = false;

  constructor() {
    const url = new URL(ADMIN_DATABASE_URL);
    url.pathname = `/${this.databaseName}`;
    this.databaseUrl = url.toString();
    this.redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  }

  /** The environment every app of the stack shares. */
  baseEnv(): Record<string, string> {
    return {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      REDIS_URL,
      REDIS_KEY_PREFIX: this.keyPrefix,
      BULL_PREFIX: this.bullPrefix,
      DATABASE_URL: this.databaseUrl,
      JWT_SECRET,
      // The bench drives a few hundred viewers at thousands of requests a second: the per-viewer
      // limits stay in the path (their Redis call is part of what a request costs) but never refuse.
      RATE_LIMIT_PER_MINUTE: '1000000',
      RATE_LIMIT_WRITES_PER_MINUTE: '1000000',
      RATE_LIMIT_LOGIN_PER_MINUTE: '1000000',
    };
  }

  /** Migrates and seeds the stack's own database with the built db-cli (`seed` args). */
  async seed(args: readonly string[]): Promise<void> {
    this.seeded = true;
    await runToCompletion({
      label: 'db-cli',
      script: builtApp('db-cli'),
      env: { DATABASE_URL: this.databaseUrl },
      args: ['seed', ...args],
      root: WORKSPACE_ROOT,
    });
  }

  /**
   * Starts a built app of the workspace (dist/apps/<name>, or `script`: another build of it) and
   * waits until /health/ready says so.
   */
  startApp(
    name: StackApp,
    options: { env?: Record<string, string>; nodeArgs?: string[]; label?: string; script?: string } = {},
  ): Promise<RunningApp> {
    return this.launch(options.script ?? builtApp(name), options.label ?? name, options, '/health/ready');
  }

  /** Starts a bench program (dist/bench/<name>) and waits until it answers on `healthPath`. */
  startBenchApp(
    name: BenchApp,
    options: { env?: Record<string, string>; nodeArgs?: string[]; label?: string; healthPath?: string } = {},
  ): Promise<RunningApp> {
    return this.launch(`dist/bench/${name}/main.js`, options.label ?? name, options, options.healthPath ?? '/health');
  }

  private async launch(
    script: string,
    label: string,
    options: { env?: Record<string, string>; nodeArgs?: string[] },
    healthPath: string,
  ): Promise<RunningApp> {
    const port = await freePort();
    const proc = BenchProcess.start({
      label,
      script,
      env: { ...this.baseEnv(), PORT: String(port), ...options.env },
      nodeArgs: options.nodeArgs,
      root: WORKSPACE_ROOT,
    });
    const app: RunningApp = { name: label, proc, port, url: `http://127.0.0.1:${port}` };
    this.running.add(app);
    try {
      await waitForHttpOk(`${app.url}${healthPath}`, proc, 60_000);
    } catch (error) {
      await this.stop(app);
      throw error;
    }
    return app;
  }

  /** The processes running now. */
  apps(): Iterable<RunningApp> {
    return this.running;
  }

  /** SIGTERM (a --cpu-prof process writes its profile then), SIGKILL if it takes over 30 s. */
  async stop(app: RunningApp): Promise<void> {
    await app.proc.stop('SIGTERM', 30_000).catch(() => undefined);
    this.running.delete(app);
  }

  private redisPidCache?: number | null;

  /** Redis' pid when it runs on this machine (its CPU time is then measurable), else undefined. */
  async redisPid(): Promise<number | undefined> {
    if (this.redisPidCache === undefined) {
      const pid = Number(/process_id:(\d+)/.exec(await this.redis.info('server'))?.[1]);
      this.redisPidCache =
        pid > 0 && existsSync(`/proc/${pid}/stat`) && new URL(REDIS_URL).hostname.startsWith('127.') ? pid : null;
    }
    return this.redisPidCache ?? undefined;
  }

  /** Every key under `prefix` (SCAN, never KEYS). */
  async deleteKeys(prefix: string): Promise<number> {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await this.redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.running].map((app) => app.proc.stop('SIGTERM', 10_000).catch(() => undefined)));
    this.running.clear();
    await this.deleteKeys(this.keyPrefix).catch(() => undefined);
    this.redis.disconnect();
    if (!this.seeded) return;
    const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${this.databaseName}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }

  /**
   * Connections open now: to Redis (every client of the server, this bench's own included) and to
   * this run's database.
   */
  async connections(): Promise<{ redis: number; postgres: number }> {
    const info = await this.redis.info('clients');
    const redis = Number(/^connected_clients:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
    const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
        [this.databaseName],
      );
      return { redis, postgres: rows[0]?.n ?? Number.NaN };
    } finally {
      await admin.end();
    }
  }

  /** Pids of the Postgres backends serving this run's database now (their CPU time is this run's SQL). */
  async postgresBackendPids(): Promise<number[]> {
    const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [
        this.databaseName,
      ]);
      return rows.map((r) => r.pid).filter((pid) => existsSync(`/proc/${pid}/stat`));
    } finally {
      await admin.end();
    }
  }

  /** Kills every child at once (an interrupted run): no waiting, nothing else. */
  killAll(): void {
    for (const app of this.running) app.proc.child.kill('SIGKILL');
  }
}
