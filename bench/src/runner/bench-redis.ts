import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient, RedisEndpoint } from '@worker-pattern/fragment';
import { freeLocalPort, LocalRedisCluster, spawnRedisServer } from '@worker-pattern/fragment/testing';

/** What the Redis servers behind a client have done so far, summed over every master. */
export interface RedisServerStats {
  /** Calls per command (`INFO commandstats`; commands a script runs count too). */
  readonly calls: Readonly<Record<string, number>>;
  /** Socket reads the servers processed (`total_reads_processed`): client round trips as they see them. */
  readonly reads: number;
}

/** What the servers did between two snapshots. */
export function statsDelta(before: RedisServerStats, after: RedisServerStats): RedisServerStats {
  const calls: Record<string, number> = {};
  for (const [command, n] of Object.entries(after.calls)) {
    const delta = n - (before.calls[command] ?? 0);
    if (delta > 0) calls[command] = delta;
  }
  return { calls, reads: after.reads - before.reads };
}

/** Parses `INFO commandstats` and `INFO stats` text into calls per command and socket reads. */
export function parseServerStats(info: string): RedisServerStats {
  const calls: Record<string, number> = {};
  for (const [, command, n] of info.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)) calls[command] = Number(n);
  const reads = Number(/^total_reads_processed:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
  return { calls, reads };
}

function sumStats(all: readonly RedisServerStats[]): RedisServerStats {
  const calls: Record<string, number> = {};
  for (const stats of all)
    for (const [command, n] of Object.entries(stats.calls)) calls[command] = (calls[command] ?? 0) + n;
  return { calls, reads: all.reduce((sum, s) => sum + s.reads, 0) };
}

/**
 * Redis servers of a scenario's own on this machine, nothing persisted: one `redis-server`, or a
 * Redis Cluster of N masters without replicas (LocalRedisCluster, libs/fragment/src/lib/testing),
 * so that command counts and CPU are this scenario's alone and both kinds start from the same config.
 * Stopped (and their data gone) with `stop()`.
 */
export class BenchRedis {
  private constructor(
    readonly kind: 'single' | 'cluster',
    /** The apps' environment for it: `REDIS_URL`, or `REDIS_CLUSTER_NODES`. */
    readonly env: Readonly<Record<string, string>>,
    readonly endpoint: RedisEndpoint,
    /** The bench's own connection (commands, INFO). */
    readonly client: RedisClient,
    private readonly stopServers: () => Promise<void>,
  ) {}

  static async single(): Promise<BenchRedis> {
    const port = await freeLocalPort();
    const dir = mkdtempSync(path.join(tmpdir(), 'wp-bench-redis-'));
    let child: ChildProcess | undefined;
    try {
      child = await spawnRedisServer(port, dir, []);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    const server = child;
    const url = `redis://127.0.0.1:${port}`;
    const client = new Redis(url, { maxRetriesPerRequest: 2 });
    return new BenchRedis('single', { REDIS_URL: url }, { kind: 'single', url }, client, async () => {
      client.disconnect();
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
        server.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    });
  }

  static async cluster(masters: number): Promise<BenchRedis> {
    const cluster = await LocalRedisCluster.start({ masters, replicas: 0 });
    const client = new Cluster(cluster.seeds, { redisOptions: { maxRetriesPerRequest: 2 }, scaleReads: 'master' });
    // Errors surface in the commands that meet them; a node's passing reconnect is not one.
    client.on('error', () => undefined);
    try {
      await client.ping();
    } catch (error) {
      client.disconnect();
      await cluster.stop();
      throw error;
    }
    return new BenchRedis(
      'cluster',
      { REDIS_CLUSTER_NODES: cluster.seedList },
      { kind: 'cluster', nodes: cluster.seeds, auth: {} },
      client,
      async () => {
        client.disconnect();
        await cluster.stop();
      },
    );
  }

  /** One connection per master (the one server when single). */
  masters(): Redis[] {
    return this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
  }

  /** The masters' process ids, for their CPU time. */
  async pids(): Promise<number[]> {
    const infos = await Promise.all(this.masters().map((m) => m.info('server')));
    return infos.map((info) => Number(/^process_id:(\d+)/m.exec(info)?.[1]));
  }

  /** Keys on each master (`DBSIZE`), in the masters' order. */
  async keysPerMaster(): Promise<number[]> {
    return Promise.all(this.masters().map((m) => m.dbsize()));
  }

  /** Calls per command and socket reads so far, summed over the masters. */
  async stats(): Promise<RedisServerStats> {
    const infos = await Promise.all(
      this.masters().map(async (m) => `${await m.info('commandstats')}\n${await m.info('stats')}`),
    );
    return sumStats(infos.map(parseServerStats));
  }

  async stop(): Promise<void> {
    await this.stopServers();
  }
}
