import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freeLoopbackPort, LocalServer } from '@worker-pattern/db/testing';

// Throwaway Postgres servers (and replicas, and PgBouncer) come from the data layer's test harness,
// shared with the libraries' integration tests.
export { LocalPgBouncer, LocalPostgres } from '@worker-pattern/db/testing';

/** A Redis of the test's own, for fault tests that stop and restart it. */
export class LocalRedis extends LocalServer {
  private extraArgs: readonly string[] = [];

  /** `args`: more redis-server options, e.g. `['--maxmemory', '32mb', '--maxmemory-policy', 'allkeys-lru']`. */
  static async create(args: readonly string[] = []): Promise<LocalRedis> {
    const server = new LocalRedis(await freeLoopbackPort(), mkdtempSync(path.join(tmpdir(), 'wp-e2e-redis-')));
    server.extraArgs = args;
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.spawnServer('redis-server', [
      ...['--port', String(this.port), '--bind', '127.0.0.1'],
      ...['--save', '', '--appendonly', 'no', '--dir', this.dir],
      ...this.extraArgs,
    ]);
    await this.waitUntil(() => this.output.includes('Ready to accept connections'), 'redis-server');
  }
}
