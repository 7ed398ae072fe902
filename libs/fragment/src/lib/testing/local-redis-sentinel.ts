import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { RedisNode } from '../redis-clients';
import { freeLocalPort, spawnRedisServer } from './local-redis-cluster';

export const SENTINEL_MASTER_NAME = 'wp-master';

/**
 * A Sentinel-managed Redis on this machine for tests: a master, a replica of it and one Sentinel
 * (quorum 1, a master is down after 1 s), all on free ports of 127.0.0.1. The master can be killed
 * to see the Sentinel promote the replica.
 */
export class LocalRedisSentinel {
  private constructor(
    private readonly dir: string,
    readonly masterPort: number,
    readonly replicaPort: number,
    readonly sentinelPort: number,
    private readonly children: Map<number, ChildProcess>,
  ) {}

  static async start(): Promise<LocalRedisSentinel> {
    const dir = mkdtempSync(path.join(tmpdir(), 'wp-redis-sentinel-'));
    const [masterPort, replicaPort, sentinelPort] = [
      await freeLocalPort(),
      await freeLocalPort(),
      await freeLocalPort(),
    ];
    const children = new Map<number, ChildProcess>();
    const instance = new LocalRedisSentinel(dir, masterPort, replicaPort, sentinelPort, children);
    try {
      children.set(masterPort, await spawnRedisServer(masterPort, dir, []));
      children.set(
        replicaPort,
        await spawnRedisServer(replicaPort, dir, ['--replicaof', '127.0.0.1', String(masterPort)]),
      );
      const config = path.join(dir, 'sentinel.conf');
      writeFileSync(
        config,
        [
          `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${masterPort} 1`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
          '',
        ].join('\n'),
      );
      children.set(sentinelPort, await spawnRedisServer(sentinelPort, dir, [config], { sentinel: true }));
      await instance.waitForMaster(masterPort);
    } catch (error) {
      await instance.stop();
      throw error;
    }
    return instance;
  }

  get sentinels(): RedisNode[] {
    return [{ host: '127.0.0.1', port: this.sentinelPort }];
  }

  /** The port of the master the Sentinel names now. */
  async master(): Promise<number> {
    const sentinel = new Redis({ host: '127.0.0.1', port: this.sentinelPort, lazyConnect: true });
    try {
      await sentinel.connect();
      const [, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER_NAME)) as string[];
      return Number(port);
    } finally {
      sentinel.disconnect();
    }
  }

  /** Kills a node at once (SIGKILL). */
  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Until the Sentinel names `port` as the master (e.g. the replica after a failover). */
  async waitForMaster(port: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.master().catch(() => 0)) !== port) {
      if (Date.now() > deadline) throw new Error(`the Sentinel did not name ${port} master within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.children.keys()].map((port) => this.kill(port)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
