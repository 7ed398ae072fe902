import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { RedisNode } from '../redis-clients';

const run = promisify(execFile);

/** A port nobody listens on right now (the OS picks it). */
export async function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

interface ClusterNode {
  readonly port: number;
  /** The cluster bus: by default port + 10000, which may be taken or above 65535 for a free port. */
  readonly busPort: number;
  child?: ChildProcess;
}

/**
 * A real Redis Cluster on this machine for tests: `redis-server --cluster-enabled yes` on free ports
 * (127.0.0.1 only, nothing on disk but the nodes' config in a temp dir), joined with
 * `redis-cli --cluster create`, N masters each with its replicas. Nodes can be killed (SIGKILL) and
 * started again to test failover.
 */
export class LocalRedisCluster {
  private constructor(
    private readonly dir: string,
    private readonly nodes: ClusterNode[],
  ) {}

  static async start(options: { masters?: number; replicas?: number } = {}): Promise<LocalRedisCluster> {
    const masters = options.masters ?? 3;
    const replicas = options.replicas ?? 1;
    const dir = mkdtempSync(path.join(tmpdir(), 'wp-redis-cluster-'));
    const count = masters * (1 + replicas);
    const taken: number[] = [];
    while (taken.length < 2 * count) {
      const port = await freeLocalPort();
      if (!taken.includes(port)) taken.push(port);
    }
    const ports = taken.slice(0, count);
    const cluster = new LocalRedisCluster(
      dir,
      ports.map((port, i) => ({ port, busPort: taken[count + i] })),
    );
    try {
      await Promise.all(cluster.nodes.map((node) => cluster.spawnNode(node)));
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((p) => `127.0.0.1:${p}`),
          '--cluster-replicas',
          String(replicas),
          '--cluster-yes',
        ],
        { timeout: 30_000 },
      );
      await cluster.waitHealthy();
      await cluster.waitReplicasOnline(replicas);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Seed nodes, as `REDIS_CLUSTER_NODES` takes them. */
  get seedList(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  get seeds(): RedisNode[] {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  get ports(): number[] {
    return this.nodes.map((n) => n.port);
  }

  /** The live masters and how many slots each serves (from a live node's CLUSTER NODES). */
  async masters(): Promise<Array<{ port: number; slots: number }>> {
    const text = await this.ask((redis) => redis.call('CLUSTER', 'NODES') as Promise<string>);
    return text
      .split('\n')
      .map((line) => line.split(' '))
      .filter((fields) => {
        const flags = (fields[2] ?? '').split(',');
        return flags.includes('master') && !flags.includes('fail') && !flags.includes('fail?');
      })
      .map((fields) => {
        const port = Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
        const slots = fields.slice(8).reduce((sum, range) => {
          const [from, to] = range.split('-').map(Number);
          return sum + (to === undefined ? 1 : to - (from ?? 0) + 1);
        }, 0);
        return { port, slots };
      })
      .filter((m) => m.slots > 0);
  }

  /** The port of the master serving `key`'s slot. */
  async masterOf(key: string): Promise<number> {
    const slot = Number(await this.ask((redis) => redis.call('CLUSTER', 'KEYSLOT', key) as Promise<number>));
    const shards = (await this.ask((redis) => redis.call('CLUSTER', 'SLOTS'))) as Array<
      [number, number, [string, number]]
    >;
    const shard = shards.find(([from, to]) => slot >= from && slot <= to);
    if (!shard) throw new Error(`no master serves slot ${slot}`);
    return Number(shard[2][1]);
  }

  /** Kills a node at once (SIGKILL): its replica takes over after the node timeout. */
  async kill(port: number): Promise<void> {
    const node = this.node(port);
    const child = node.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed node again; it rejoins as a replica of whoever took over. */
  async restart(port: number): Promise<void> {
    await this.spawnNode(this.node(port));
  }

  /** Until every slot is served by a live master and every live node says the cluster is ok. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const healthy = await this.isHealthy().catch(() => false);
      if (healthy) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster ${this.seedList} not healthy within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Until every master has `replicas` replicas done with their first sync: a replica that never
   * synced is not eligible for failover, so a master killed before then stays down.
   */
  async waitReplicasOnline(replicas: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const masters = await this.masters().catch(() => []);
      const online = await Promise.all(
        masters.map(async (m) => {
          const info = await withNode(m.port, (redis) => redis.info('replication')).catch(() => '');
          return (info.match(/^slave\d+:.*state=online/gm) ?? []).length;
        }),
      );
      if (masters.length > 0 && online.every((count) => count >= replicas)) return;
      if (Date.now() > deadline)
        throw new Error(`Redis Cluster ${this.seedList}: replicas not in sync within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.port)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async isHealthy(): Promise<boolean> {
    const live = this.nodes.filter((n) => n.child && n.child.exitCode === null && n.child.signalCode === null);
    for (const node of live) {
      const info = await withNode(node.port, (redis) => redis.call('CLUSTER', 'INFO') as Promise<string>);
      if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info)) return false;
    }
    const masters = await this.masters();
    return masters.reduce((sum, m) => sum + m.slots, 0) === 16384 && masters.every((m) => this.isLive(m.port));
  }

  private isLive(port: number): boolean {
    const child = this.node(port).child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  private node(port: number): ClusterNode {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no node on port ${port}`);
    return node;
  }

  /** Runs `call` on the first live node that answers. */
  private async ask<T>(call: (redis: Redis) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const node of this.nodes) {
      if (!this.isLive(node.port)) continue;
      try {
        return await withNode(node.port, call);
      } catch (error) {
        last = error;
      }
    }
    throw new Error(
      `no live node of ${this.seedList} answered: ${(last as Error | undefined)?.message ?? 'none alive'}`,
    );
  }

  private async spawnNode(node: ClusterNode): Promise<void> {
    node.child = await spawnRedisServer(node.port, this.dir, [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      path.join(this.dir, `nodes-${node.port}.conf`),
      '--cluster-node-timeout',
      '2000',
      '--cluster-port',
      String(node.busPort),
    ]);
  }
}

/**
 * Starts `redis-server` on 127.0.0.1:`port` with nothing persisted (config files in `dir`) and the
 * extra arguments, and resolves once it accepts connections. `sentinel: true` runs it as a Sentinel
 * from the config file `args[0]`.
 */
export async function spawnRedisServer(
  port: number,
  dir: string,
  args: readonly string[],
  options: { sentinel?: boolean } = {},
): Promise<ChildProcess> {
  const base = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = spawn(
    'redis-server',
    options.sentinel ? [...args, '--sentinel', '--port', String(port), '--bind', '127.0.0.1'] : [...base, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + 20_000;
  const ready = options.sentinel ? /Sentinel ID is|monitor master/ : /Ready to accept connections/;
  while (!ready.test(output)) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

async function withNode<T>(port: number, call: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await call(redis);
  } finally {
    redis.disconnect();
  }
}
