import { bullQueuePrefix } from '@worker-pattern/fragment';
import Bull from 'bull';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The baseline of scenario 3: raw Bull, a no-op processor, nothing else. Same Redis, same queue
 * settings (lock duration, stalled-job check) and the same concurrency as the engine's worker; no
 * Nest, no validation, no leases, no result write, no readiness event, no metrics.
 * Env: REDIS_URL, BULL_PREFIX, QUEUE, WORKER_CONCURRENCY, BENCH_BUILD_MS, PORT (GET / answers how
 * many jobs it ran).
 */
const env = process.env;
const concurrency = Number(env['WORKER_CONCURRENCY'] ?? 16);
// Optional: each job waits this long (the I/O-bound comparison of scenario 3); 0 is a no-op.
const sleepMs = Number(env['BENCH_BUILD_MS'] ?? 0);
const queueName = env['QUEUE'] ?? 'bench';
// The engine's layout, so both sides of the comparison use the same keys.
const queue = new Bull(queueName, env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', {
  prefix: bullQueuePrefix(env['BULL_PREFIX'] ?? 'bull', queueName),
  settings: { lockDuration: 30_000, stalledInterval: 15_000, maxStalledCount: 1 },
});
let processed = 0;

async function main(): Promise<void> {
  await queue.isReady();
  void queue.process('build', concurrency, async () => {
    if (sleepMs > 0) await sleep(sleepMs);
    processed++;
    return null;
  });
  const server = createServer((_req, res) => res.end(JSON.stringify({ processed })));
  server.listen(Number(env['PORT'] ?? 0), '127.0.0.1', () => process.stdout.write('READY\n'));
  const stop = async () => {
    server.close();
    await queue.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((error: Error) => {
  process.stderr.write(`raw-bull-worker: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
