import { builtApp } from '@worker-pattern/platform/processes';
import { LocalPostgres } from '@worker-pattern/db/testing';
import type { BenchContext } from '../context';
import { ViewerPool } from '../context';
import { mapPool } from '../load';
import { runToCompletion, WORKSPACE_ROOT } from '../processes';
import { scrape, sumOf } from '../prometheus';
import { fig, num, ratioText, type ScenarioResult, table } from '../report';
import { JWT_SECRET, type RunningApp } from '../stack';
import { percentile, ratio, RunSeries } from '../stats';
import { waitForIdleQueues } from '../system';
import { signViewerToken } from '../tokens';
import { type FeedGateway, postToVisible } from './freshness';

const WORKERS = ['profile-worker', 'feed-worker', 'recommendations-worker'] as const;
type Variant = 'primary' | 'replica';

/**
 * Scenario 9 (issue 13): the builders on a primary with one streaming replica beside the primary
 * alone, in interleaved runs on one seeded database: builder throughput (cold dashboards, three
 * builds each, drained from the queues) and post → visible freshness (the rebuild a post causes is
 * fenced on the post's WAL position: it reads the replica only once the replica has replayed it).
 * Postgres, its replica (pg_basebackup -R), the gateway and the invalidation worker are the
 * scenario's own, and stay up across variants; only the fragment workers change.
 */
export async function replicas(ctx: BenchContext): Promise<ScenarioResult> {
  const { runs, replicaViewers, freshnessSamples, seedArgs } = ctx.sizes;
  ctx.log('  starting a Postgres of its own and a streaming replica (pg_basebackup -R)');
  const primary = await LocalPostgres.create();
  const started: RunningApp[] = [];
  let replica: LocalPostgres | undefined;
  try {
    replica = await primary.createReplica();
    const database = `wp_bench_${ctx.stack.id}_replicas`;
    const databaseUrl = primary.url(database);
    const replicaUrl = replica.url(database);
    ctx.log(`  seeding ${database} on it (db-cli seed ${seedArgs.join(' ')})`);
    await runToCompletion({
      label: 'db-cli',
      script: builtApp('db-cli'),
      env: { DATABASE_URL: databaseUrl },
      args: ['seed', ...seedArgs],
      root: WORKSPACE_ROOT,
    });
    await replica.caughtUp(120_000);
    const users = Number((await primary.query<{ n: string }>('SELECT count(*) AS n FROM users', [], database))[0]?.n);

    // Keys and queues of its own, under the stack's prefixes (its cleanup removes them).
    const keyPrefix = `${ctx.stack.keyPrefix}replicas:`;
    const bullPrefix = `${ctx.stack.bullPrefix}-replicas`;
    const env = { DATABASE_URL: databaseUrl, REDIS_KEY_PREFIX: keyPrefix, BULL_PREFIX: bullPrefix };
    const start = async (name: 'gateway' | 'invalidation-worker' | (typeof WORKERS)[number], extra = {}) => {
      const app = await ctx.stack.startApp(name, { env: { ...env, ...extra }, label: `${name}-replicas` });
      started.push(app);
      return app;
    };
    const gatewayApp = await start('gateway');
    await start('invalidation-worker');
    const gateway: FeedGateway = { url: gatewayApp.url, token: (v) => signViewerToken(JWT_SECRET, v) };
    const viewers = new ViewerPool(users);

    type Key = `${Variant}:${'buildsPerSecond' | 'p50' | 'p99' | 'replicaShare'}`;
    const series = new RunSeries<Key>();
    for (let run = 1; run <= runs; run++) {
      // Interleaved, alternating which goes first, so drift on a shared machine hits both.
      const order: Variant[] = run % 2 === 1 ? ['primary', 'replica'] : ['replica', 'primary'];
      for (const variant of order) {
        const workers = await Promise.all(
          WORKERS.map((name) => start(name, variant === 'replica' ? { DATABASE_REPLICA_URLS: replicaUrl } : {})),
        );
        try {
          for (const viewer of viewers.take(1)) await warmUp(gateway, viewer);
          await waitForReplicaInRotation(workers, variant);
          const before = await readsByServer(workers);
          const cold = viewers.take(replicaViewers);
          const t0 = performance.now();
          await mapPool(cold, 50, async (viewer) => {
            const response = await fetch(`${gateway.url}/api/pages/dashboard`, {
              headers: { authorization: `Bearer ${gateway.token(viewer)}` },
            });
            if (response.status !== 200) throw new Error(`dashboard of ${viewer}: ${response.status}`);
            await response.arrayBuffer();
          });
          await waitForIdleQueues(ctx.stack.redis, bullPrefix);
          const seconds = (performance.now() - t0) / 1000;
          const after = await readsByServer(workers);
          const replicaReads = after.replica - before.replica;
          const allReads = replicaReads + after.primary - before.primary;

          const samples: number[] = [];
          for (const [i, viewer] of cold.slice(0, freshnessSamples).entries()) {
            const ms = await postToVisible(gateway, viewer, `replicas-${variant}-${run}-${i}`);
            if (ms !== undefined) samples.push(ms);
          }
          series.addAll({
            [`${variant}:buildsPerSecond`]: (cold.length * WORKERS.length) / seconds,
            [`${variant}:p50`]: percentile(samples, 50),
            [`${variant}:p99`]: percentile(samples, 99),
            [`${variant}:replicaShare`]: allReads > 0 ? replicaReads / allReads : 0,
          });
          ctx.log(
            `  run ${run}, ${variant === 'replica' ? 'primary + replica' : 'primary alone'}: ` +
              `${((cold.length * WORKERS.length) / seconds).toFixed(0)} builds/s, ` +
              `${num((100 * replicaReads) / Math.max(1, allReads))} % of reads on the replica; ` +
              `post → visible p50 ${percentile(samples, 50).toFixed(0)} ms over ${samples.length} posts`,
          );
        } finally {
          for (const app of workers) {
            await ctx.stack.stop(app);
            started.splice(started.indexOf(app), 1);
          }
        }
      }
    }
    const f = series.figures();
    const throughputRatio = ratio(f['replica:buildsPerSecond'], f['primary:buildsPerSecond']);
    const freshnessP50Ratio = ratio(f['replica:p50'], f['primary:p50']);
    const freshnessP99Ratio = ratio(f['replica:p99'], f['primary:p99']);
    const markdown = [
      `${num(replicaViewers)} cold dashboards per run (${num(replicaViewers * WORKERS.length)} builds, requested 50 at a time, drained from the queues), then ${num(freshnessSamples)} posts one at a time by someone each viewer follows (post → first read of the follower's feed that lists it). The scenario's own Postgres and a streaming replica of it (\`pg_basebackup -R\`) on this machine; fragment workers with \`DATABASE_REPLICA_URLS\` set or not, in interleaved runs (median and range over ${runs} run${runs > 1 ? 's' : ''}). A rebuild caused by a post carries the post's WAL position and reads the replica only once it has replayed it (else the primary, after \`DATABASE_REPLICA_WAIT_MS\`).`,
      '',
      table(
        ['', 'primary alone', 'primary + 1 replica', 'ratio'],
        [
          [
            'builds/s',
            fig(f['primary:buildsPerSecond'], 0),
            fig(f['replica:buildsPerSecond'], 0),
            ratioText(throughputRatio),
          ],
          ['share of builder reads on the replica', '0 %', `${num(100 * f['replica:replicaShare'].median)} %`, ''],
          [
            'post → visible p50',
            fig(f['primary:p50'], 0, 'ms'),
            fig(f['replica:p50'], 0, 'ms'),
            ratioText(freshnessP50Ratio),
          ],
          [
            'post → visible p99',
            fig(f['primary:p99'], 0, 'ms'),
            fig(f['replica:p99'], 0, 'ms'),
            ratioText(freshnessP99Ratio),
          ],
        ],
      ),
      '',
      'On one machine the replica competes for the same cores as the primary, the workers and Redis: what a replica buys here is moving reads off the primary (the share above), not extra CPU. Throughput gains need the replica on hardware of its own.',
    ].join('\n');
    return {
      id: 'replicas',
      title: '9. Read replicas: builder throughput and freshness',
      headline: {
        throughputRatio,
        freshnessP50Ratio,
        freshnessP99Ratio,
        replicaShare: f['replica:replicaShare'].median,
        primaryBuildsPerSecond: f['primary:buildsPerSecond'].median,
        replicaBuildsPerSecond: f['replica:buildsPerSecond'].median,
      },
      markdown,
      figures: f,
    };
  } finally {
    for (const app of started) await ctx.stack.stop(app);
    await replica?.destroy();
    await primary.destroy();
  }
}

/** Builder reads so far, by server (`primary`, or any replica), summed over the workers. */
async function readsByServer(workers: readonly RunningApp[]): Promise<{ primary: number; replica: number }> {
  const samples = (await Promise.all(workers.map((w) => scrape(w.url)))).flat();
  const primary = sumOf(samples, 'db_reads_total', { server: 'primary' });
  return { primary, replica: sumOf(samples, 'db_reads_total') - primary };
}

/** One dashboard built: every worker has read once (with a replica, that starts its health checks). */
async function warmUp(gateway: FeedGateway, viewer: number): Promise<void> {
  for (let attempt = 0; attempt < 15; attempt++) {
    const response = await fetch(`${gateway.url}/api/pages/dashboard?waitMs=2000`, {
      headers: { authorization: `Bearer ${gateway.token(viewer)}` },
    });
    const page = (await response.json()) as { fragments: Record<string, { status: string }> };
    if (Object.values(page.fragments).every((f) => f.status === 'ready')) return;
  }
  throw new Error(`warm-up dashboard of ${viewer} never ready`);
}

/** With a replica: wait until every worker's health checks put it in rotation. */
async function waitForReplicaInRotation(workers: readonly RunningApp[], variant: Variant): Promise<void> {
  if (variant === 'primary') return;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const samples = await Promise.all(workers.map((w) => scrape(w.url)));
    if (samples.every((s) => sumOf(s, 'db_replica_up', { replica: 'replica-1' }) === 1)) return;
    if (Date.now() > deadline) throw new Error('the replica never came into rotation');
    await new Promise((r) => setTimeout(r, 100));
  }
}
