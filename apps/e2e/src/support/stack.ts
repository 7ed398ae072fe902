import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { Client } from 'pg';
import { LocalPgBouncer, type LocalPostgres, PGBOUNCER_MISSING, pgBouncerInstalled } from '@worker-pattern/db/testing';
import { bullQueuePrefix, type RedisClient } from '@worker-pattern/fragment';
import { deleteKeysWithPrefix, LocalRedisCluster, TEST_REDIS_URL } from '@worker-pattern/fragment/testing';
import { WORKER_NAMES, type WorkerName, WORKER_QUEUE_NAMES } from '@worker-pattern/registry';
import { type AppProcess, freePort, runToCompletion, startApp, waitForHttpOk } from './processes';

/** The registry's workers (libs/registry/src/lib/apps.ts): a stack runs each of them. */
export const WORKER_APPS: readonly WorkerName[] = WORKER_NAMES;
/** `gateway-2`…: extra gateway replicas behind the same Redis. */
export type AppName = 'gateway' | `gateway-${number}` | WorkerName;

const ADMIN_DATABASE_URL = process.env['TEST_DATABASE_ADMIN_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Whether stacks run behind PgBouncer in transaction mode by default: yes, as production should,
 * unless `E2E_PGBOUNCER=0` (then the apps connect to Postgres directly).
 */
export const PGBOUNCER_BY_DEFAULT = process.env['E2E_PGBOUNCER'] !== '0';
/** Whether stacks run on a Redis Cluster of their own by default (`E2E_REDIS=cluster`: the e2e-cluster target). */
export const REDIS_CLUSTER_BY_DEFAULT = process.env['E2E_REDIS'] === 'cluster';
const JWT_SECRET = 'e2e-secret-0123456789abcdef0123456789abcdef';

export interface StackOptions {
  /** Demo users to seed (the other tables scale with it). */
  readonly users?: number;
  /** More `db-cli seed` arguments, e.g. `--celebrities 1 --celebrity-followers 12000`. */
  readonly seedArgs?: readonly string[];
  /** A Redis of the test's own (fault tests restart it); default the shared one under a key prefix. */
  readonly redisUrl?: string;
  /**
   * Run every Redis role on a real Redis Cluster (3 masters, 3 replicas) the stack starts and stops
   * (default `REDIS_CLUSTER_BY_DEFAULT`); the apps get REDIS_CLUSTER_NODES.
   */
  readonly redisCluster?: boolean;
  /** A Postgres of the test's own, as its maintenance-database URL; default the shared server. */
  readonly adminDatabaseUrl?: string;
  /** Extra environment for every app, e.g. short Bull intervals for fault tests. */
  readonly env?: Record<string, string>;
  /** The apps started with the stack (default: the gateway and every worker); `startApp` adds more. */
  readonly apps?: readonly AppName[];
  /**
   * Put a PgBouncer in transaction mode between the apps and Postgres (default `PGBOUNCER_BY_DEFAULT`).
   * The apps' DATABASE_URL (and their replicas') then go through it; the invalidation worker's LISTEN
   * (DATABASE_LISTEN_URL), db-cli and the test's own queries connect directly.
   */
  readonly pgbouncer?: boolean;
  /** Streaming replicas of the stack's Postgres (`adminDatabaseUrl`) the builders read from. */
  readonly replicas?: readonly LocalPostgres[];
  /** Give every app a MANAGEMENT_PORT of its own: /metrics and the probes answer there only. */
  readonly managementPorts?: boolean;
}

/**
 * The whole system as separate processes, exactly as `npm start` runs it: db-cli migrates and seeds
 * a database of its own, then the gateway and the workers start against it and against a Redis key
 * prefix no other run uses. By default the apps reach Postgres through a PgBouncer of the stack's
 * own in transaction mode, as production should run them.
 */
export class Stack {
  readonly apps = new Map<AppName, AppProcess>();
  readonly ports = new Map<AppName, number>();
  /** Each app's MANAGEMENT_PORT, when the stack gives them one. */
  readonly managementPorts = new Map<AppName, number>();
  readonly redis: RedisClient;

  /** The stack's PgBouncer, when the apps go through one. */
  pgbouncer?: LocalPgBouncer;
  /** What the apps use as DATABASE_URL (the pooler's, or `databaseUrl`). */
  appDatabaseUrl: string;

  private constructor(
    /** The database, directly: for db-cli, LISTEN and the test's own queries. */
    readonly databaseUrl: string,
    readonly databaseName: string,
    readonly keyPrefix: string,
    private readonly env: Record<string, string>,
    private readonly adminDatabaseUrl: string,
    /** The stack's own Redis Cluster, when it runs on one. */
    readonly cluster?: LocalRedisCluster,
    private readonly withManagementPorts = false,
  ) {
    this.appDatabaseUrl = databaseUrl;
    // Fault tests stop this Redis: a command must fail rather than wait in the offline queue.
    this.redis = cluster
      ? new Cluster(cluster.seeds, { redisOptions: { maxRetriesPerRequest: 1 } })
      : new Redis(env['REDIS_URL'] ?? TEST_REDIS_URL, {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          lazyConnect: false,
        });
    this.redis.on('error', () => undefined);
  }

  static async start(options: StackOptions = {}): Promise<Stack> {
    const id = randomBytes(4).toString('hex');
    const databaseName = `wp_e2e_${id}`;
    const adminDatabaseUrl = options.adminDatabaseUrl ?? ADMIN_DATABASE_URL;
    const databaseUrl = new URL(adminDatabaseUrl);
    databaseUrl.pathname = `/${databaseName}`;
    const keyPrefix = `e2e:${id}:`;
    const cluster = (options.redisCluster ?? REDIS_CLUSTER_BY_DEFAULT) ? await LocalRedisCluster.start() : undefined;
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      REDIS_URL: options.redisUrl ?? TEST_REDIS_URL,
      ...(cluster ? { REDIS_CLUSTER_NODES: cluster.seedList } : {}),
      REDIS_KEY_PREFIX: keyPrefix,
      BULL_PREFIX: `e2e:${id}:bull`,
      ...options.env,
    };
    const stack = new Stack(
      databaseUrl.toString(),
      databaseName,
      keyPrefix,
      env,
      adminDatabaseUrl,
      cluster,
      options.managementPorts,
    );
    await new Promise<void>((resolve) =>
      stack.redis.status === 'ready' ? resolve() : stack.redis.once('ready', () => resolve()),
    );
    try {
      await runToCompletion('db-cli', { DATABASE_URL: stack.databaseUrl }, [
        'seed',
        '--users',
        String(options.users ?? 1000),
        ...(options.seedArgs ?? []),
      ]);
      await stack.connectDatabase(options);
      await Promise.all(
        (options.apps ?? (['gateway', ...WORKER_APPS] as AppName[])).map((name) => stack.startApp(name)),
      );
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  /** Where the apps find Postgres: through the pooler or not, with the replicas or not. */
  private async connectDatabase(options: StackOptions): Promise<void> {
    const replicas = options.replicas ?? [];
    const replicaAlias = (i: number) => `${this.databaseName}_replica${i + 1}`;
    if (options.pgbouncer ?? PGBOUNCER_BY_DEFAULT) {
      if (!pgBouncerInstalled()) throw new Error(`${PGBOUNCER_MISSING}, or run the e2e tests with E2E_PGBOUNCER=0`);
      const primary = new URL(this.adminDatabaseUrl);
      this.pgbouncer = await LocalPgBouncer.create({
        fallback: { host: primary.hostname, port: Number(primary.port || 5432) },
        databases: Object.fromEntries(
          replicas.map((replica, i) => [
            replicaAlias(i),
            { host: '127.0.0.1', port: replica.port, dbname: this.databaseName },
          ]),
        ),
      });
      this.appDatabaseUrl = this.pgbouncer.url(this.databaseName);
      this.env['DATABASE_LISTEN_URL'] = this.databaseUrl;
    }
    if (replicas.length > 0) {
      await Promise.all(replicas.map((replica) => replica.caughtUp()));
      this.env['DATABASE_REPLICA_URLS'] = replicas
        .map((replica, i) => this.pgbouncer?.url(replicaAlias(i)) ?? replica.url(this.databaseName))
        .join(',');
    }
  }

  /** Starts (or restarts) one app on its port and waits until it is ready. */
  async startApp(name: AppName, extraEnv: Record<string, string> = {}): Promise<AppProcess> {
    const port = this.ports.get(name) ?? (await freePort());
    this.ports.set(name, port);
    const env: Record<string, string> = { ...this.env, PORT: String(port), ...extraEnv };
    if (this.withManagementPorts) {
      const managementPort = this.managementPorts.get(name) ?? (await freePort());
      this.managementPorts.set(name, managementPort);
      env['MANAGEMENT_PORT'] = String(managementPort);
    }
    const gateway = name.startsWith('gateway');
    if (gateway) env['JWT_SECRET'] = JWT_SECRET;
    env['DATABASE_URL'] = this.appDatabaseUrl;
    const app = startApp(gateway ? 'gateway' : name, env, [], name);
    this.apps.set(name, app);
    await waitForHttpOk(`${this.managementUrl(name)}/health/ready`, app);
    return app;
  }

  url(name: AppName = 'gateway'): string {
    const port = this.ports.get(name);
    if (!port) throw new Error(`${name} has no port`);
    return `http://127.0.0.1:${port}`;
  }

  /** Where an app's /metrics and probes answer: its management port, or its port when it has none. */
  managementUrl(name: AppName = 'gateway'): string {
    const port = this.managementPorts.get(name);
    return port ? `http://127.0.0.1:${port}` : this.url(name);
  }

  app(name: AppName): AppProcess {
    const app = this.apps.get(name);
    if (!app) throw new Error(`${name} is not running`);
    return app;
  }

  async login(userId: number): Promise<string> {
    const response = await fetch(`${this.url()}/api/auth/dev-login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId }),
    });
    if (response.status !== 200) throw new Error(`dev-login ${response.status}: ${await response.text()}`);
    return ((await response.json()) as { token: string }).token;
  }

  /** GET on the gateway with the viewer's token. */
  get(path: string, token?: string, name: AppName = 'gateway'): Promise<Response> {
    return fetch(`${this.url(name)}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  }

  /** The value of one Prometheus sample of an app's /metrics (0 when absent). */
  async metric(name: AppName, metric: string, labels: Record<string, string>): Promise<number> {
    const text = await (await fetch(`${this.managementUrl(name)}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${metric}{`)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
    }
    return 0;
  }

  /** Where Bull keeps a queue's lists (`<BULL_PREFIX>:{<queue>}:<queue>[:<suffix>]`: one Cluster slot per queue). */
  queueKey(queue: string, suffix?: string): string {
    const base = `${bullQueuePrefix(this.env['BULL_PREFIX'] ?? 'bull', queue)}:${queue}`;
    return suffix ? `${base}:${suffix}` : base;
  }

  /** Keys of the stack matching a pattern under its prefix, from every master of a Cluster. */
  async keys(pattern: string): Promise<string[]> {
    const nodes = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    const found = await Promise.all(nodes.map((node) => node.keys(`${this.keyPrefix}${pattern}`)));
    return found.flat().sort();
  }

  /** Every job Bull holds for the stack, in any state (a job moving between states counts once). */
  async jobCount(): Promise<number> {
    let total = 0;
    for (const queue of WORKER_QUEUE_NAMES) {
      const base = this.queueKey(queue);
      const [wait, active, delayed, completed, failed] = await Promise.all([
        this.redis.llen(`${base}:wait`),
        this.redis.llen(`${base}:active`),
        this.redis.zcard(`${base}:delayed`),
        this.redis.zcard(`${base}:completed`),
        this.redis.zcard(`${base}:failed`),
      ]);
      total += wait + active + delayed + completed + failed;
    }
    return total;
  }

  /** Runs SQL against the stack's database (for assertions only). */
  async query<T extends Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.databaseUrl });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.apps.values()].map((app) => app.stop().catch(() => undefined)));
    await this.pgbouncer?.destroy();
    await deleteKeysWithPrefix(this.redis, this.keyPrefix).catch(() => undefined);
    await this.redis.quit().catch(() => undefined);
    await this.cluster?.stop();
    const admin = new Client({ connectionString: this.adminDatabaseUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${this.databaseName}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
}
