import { BenchRedis, type RedisServerStats, statsDelta } from '../bench-redis';
import type { BenchContext } from '../context';
import { measureCpu } from '../cpu-time';
import { drainOnce } from '../drain';
import { runLoad } from '../load';
import { scrape, sumOf } from '../prometheus';
import { fig, num, ratioText, type ScenarioResult, table } from '../report';
import { FRAGMENT_WORKERS, type RunningApp } from '../stack';
import { median, ratio, RunSeries } from '../stats';
import { DASHBOARD_NAMES } from '../system';

const PATH = '/api/pages/dashboard';
const MASTERS = 3;
const VARIANTS = ['single', 'cluster'] as const;
type Variant = (typeof VARIANTS)[number];
const LABEL: Record<Variant, string> = { single: 'single Redis', cluster: `Redis Cluster, ${MASTERS} masters` };

/** Scripts a client sends (everything else in `INFO commandstats` ran inside them, or is the bench's INFO). */
const SCRIPT_COMMANDS = ['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro'];

/** One side of the comparison: its Redis servers, and a gateway and fragment workers on them. */
interface Side {
  readonly variant: Variant;
  readonly redis: BenchRedis;
  readonly gateway: RunningApp;
  readonly apps: readonly RunningApp[];
}

type Metric =
  | 'rps'
  | 'p50'
  | 'p99'
  | 'gatewayUs'
  | 'redisUs'
  | 'commands'
  | 'eval'
  | 'evalsha'
  | 'scripts'
  | 'waves'
  | 'reads'
  | 'bps'
  | 'workerUs'
  | 'redisUsPerBuild';

/**
 * Scenario 10 (issue 11): the same system on a Redis Cluster of three masters beside one Redis, in
 * interleaved runs: the warm dashboard (req/s, latency, CPU, and what Redis did per page: commands,
 * script calls, socket reads) and the engine's builds/s through one bench worker (as scenario 3).
 * Both sides run on Redis servers of the scenario's own, started alike (nothing persisted, no
 * replicas), so their command counts and CPU are this scenario's alone; each side has its own
 * gateway and fragment workers on the stack's database.
 */
export async function redisCluster(ctx: BenchContext): Promise<ScenarioResult> {
  const { runs, connections, loadSeconds, warmupSeconds, engineJobs: jobs, engineConcurrency: concurrency } = ctx.sizes;
  const system = await ctx.system();
  const warm = system.warmViewers();
  const tokens = system.tokensOf(warm);
  const sides: Side[] = [];
  const redises: BenchRedis[] = [];
  const series = new RunSeries<`${Variant}:${Metric}`>();
  const perCommand: Record<Variant, Array<Record<string, number>>> = { single: [], cluster: [] };
  const background: Partial<Record<Variant, number>> = {};
  let keysPerMaster: number[] = [];
  try {
    ctx.log(
      `  starting a Redis of its own and a Redis Cluster of ${MASTERS} masters (no replicas), each with a gateway and workers`,
    );
    // Both sides at once (their start-up is mostly waiting); each cleaned up below even if the other fails.
    const starting = await Promise.allSettled(
      VARIANTS.map(async (variant) => {
        const redis = variant === 'single' ? await BenchRedis.single() : await BenchRedis.cluster(MASTERS);
        redises.push(redis);
        sides.push(await startSide(ctx, variant, redis));
      }),
    );
    const failed = starting.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const sideOf = (variant: Variant) => sides.find((s) => s.variant === variant) as Side;
    const freshen = async (side: Side) => {
      await system.rewarm(warm, { gatewayUrl: side.gateway.url, redis: side.redis.client });
      await system.waitForIdleQueues(300_000, side.redis.client);
    };

    // Untimed warm-up of each side (JIT, connections, scripts loaded on every master), then what the
    // idle side does on its own (workers' Bull timers): it is in every per-page figure below.
    for (const side of sides) {
      await freshen(side);
      const load = await runLoad({ url: side.gateway.url, path: PATH, connections, duration: warmupSeconds, tokens });
      await settle(load.p99);
      const before = await side.redis.stats();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 1000));
      const idle = statsDelta(before, await side.redis.stats());
      background[side.variant] = (countCalls(idle) * 1000) / (performance.now() - t0);
    }

    for (let run = 1; run <= runs; run++) {
      // Interleaved, alternating which goes first, so drift on a shared machine hits both.
      const order: Variant[] = run % 2 === 1 ? ['single', 'cluster'] : ['cluster', 'single'];
      for (const variant of order) {
        const side = sideOf(variant);
        await freshen(side);
        const pids = await side.redis.pids();
        // Pages as the gateway counts them: requests still in flight when the load stops are served
        // (and use Redis) after it; they are waited for, and counted.
        const pagesBefore = await pagesServed(side.gateway);
        const before = await side.redis.stats();
        const { result: r, cpu } = await measureCpu(
          { gateway: side.gateway.proc.pid, ...Object.fromEntries(pids.map((pid, i) => [`redis${i}`, pid])) },
          () => runLoad({ url: side.gateway.url, path: PATH, connections, duration: loadSeconds, tokens }),
        );
        await settle(r.p99);
        const done = statsDelta(before, await side.redis.stats());
        const pages = (await pagesServed(side.gateway)) - pagesBefore;
        if (r.non2xx > 0 || r.errors > 0)
          throw new Error(`${LABEL[variant]}: ${r.non2xx} non-2xx, ${r.errors} errors (${JSON.stringify(r.statuses)})`);
        const redisMs = pids.reduce((sum, _, i) => sum + cpu[`redis${i}`], 0);
        const page = perPage(done, pages);
        perCommand[variant].push(page.commands);

        const drain = await drainOnce(ctx, {
          kind: 'engine',
          processes: 1,
          concurrency,
          jobs,
          builder: 'noop',
          redis: side.redis,
        });
        series.addAll({
          [`${variant}:rps`]: r.rps,
          [`${variant}:p50`]: r.p50,
          [`${variant}:p99`]: r.p99,
          [`${variant}:gatewayUs`]: (cpu['gateway'] * 1000) / r.requests,
          [`${variant}:redisUs`]: (redisMs * 1000) / r.requests,
          [`${variant}:commands`]: page.executed,
          [`${variant}:eval`]: page.commands['eval'] ?? 0,
          [`${variant}:evalsha`]: page.commands['evalsha'] ?? 0,
          [`${variant}:scripts`]: page.scripts,
          [`${variant}:waves`]: page.waves,
          [`${variant}:reads`]: done.reads / pages,
          [`${variant}:bps`]: drain.jobsPerSecond,
          [`${variant}:workerUs`]: drain.workerCpuPerJob * 1000,
          [`${variant}:redisUsPerBuild`]: drain.redisCpuPerJob * 1000,
        });
        ctx.log(
          `  run ${run}, ${LABEL[variant]}: warm ${num(r.rps)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ` +
            `${page.scripts.toFixed(2)} script calls and ${(done.reads / pages).toFixed(2)} socket reads per page; ` +
            `engine ${num(drain.jobsPerSecond)} builds/s`,
        );
      }
    }
    keysPerMaster = await sideOf('cluster').redis.keysPerMaster();
  } finally {
    for (const side of sides) for (const app of side.apps) await ctx.stack.stop(app);
    for (const redis of redises) await redis.stop();
  }

  const f = series.figures();
  const of = (metric: Metric) => ratio(f[`cluster:${metric}`], f[`single:${metric}`]);
  const row = (label: string, metric: Metric, digits: number, unit = '', withRatio = true) => [
    label,
    fig(f[`single:${metric}`], digits, unit),
    fig(f[`cluster:${metric}`], digits, unit),
    withRatio ? ratioText(of(metric)) : '',
  ];
  const breakdown = (variant: Variant) =>
    Object.entries(medianPerCommand(perCommand[variant]))
      .filter(([, n]) => n >= 0.005)
      .sort(([, a], [, b]) => b - a)
      .map(([command, n]) => `\`${command}\` ${n.toFixed(2)}`)
      .join(', ');
  const markdown = [
    `The whole dashboard path and the engine on a Redis Cluster of ${MASTERS} masters (LocalRedisCluster: \`redis-server --cluster-enabled yes\`, \`redis-cli --cluster create\`, no replicas; the apps get \`REDIS_CLUSTER_NODES\`) beside one Redis (\`REDIS_URL\`). Both are Redis servers of the scenario's own on this machine, started alike (nothing persisted), so what they count and the CPU they use is this scenario's alone; each side has its own gateway and fragment workers on the stack's database, under the same key and Bull prefixes. Per run and side: the ${num(warm.length)} viewers' dashboards rebuilt fresh, then ${loadSeconds} s of warm pages at ${connections} connections; then ${num(jobs)} engine builds drained by one bench worker (no-op builder, concurrency ${concurrency}, as in scenario 3). Sides interleaved, alternating which goes first (median and range over ${runs} run${runs === 1 ? '' : 's'}).`,
    '',
    table(
      ['', LABEL.single, LABEL.cluster, 'cluster / single'],
      [
        row('warm dashboard req/s', 'rps', 0),
        row('warm p50', 'p50', 2, 'ms'),
        row('warm p99', 'p99', 2, 'ms'),
        row('gateway CPU per page', 'gatewayUs', 0, 'µs'),
        row('Redis CPU per page (every master)*', 'redisUs', 0, 'µs'),
        row('Redis commands run per page (every master; the scripts’ own calls included)', 'commands', 2),
        row('script calls per page (what the gateway sends)', 'scripts', 2, '', false),
        row('— `EVAL`: the rate-limit guard’s own count', 'eval', 2, '', false),
        row('— `EVALSHA`: the page’s resolve (one per hash slot) or a count of hits ahead', 'evalsha', 2, '', false),
        row('pipeline waves per page (counted as below)', 'waves', 2, '', false),
        row('socket reads per page (every master)', 'reads', 2, '', false),
        row('engine builds/s (no-op builder, one worker)', 'bps', 0),
        row('worker CPU per build', 'workerUs', 0, 'µs'),
        row('Redis CPU per build (every master)*', 'redisUsPerBuild', 0, 'µs'),
      ],
    ),
    '',
    `\\* CPU time of the Redis processes (user + system, /proc/<pid>/stat) over the run, divided by pages or builds: ${MASTERS} processes on the cluster side. Every Redis, the apps and the load generator share the machine's cores, so the cluster's masters cannot run in parallel here the way they would on hosts of their own: these are the costs of the cluster's protocol (routing, one connection per master, a script per slot), not of its capacity.`,
    '',
    `**Cluster / single: warm page ${ratioText(of('rps'))} the req/s (p50 ${ratioText(of('p50'))}, p99 ${ratioText(of('p99'))}); engine ${ratioText(of('bps'))} the builds/s.** Round trips per warm page: ${fig(f['single:waves'], 2)} waves on single Redis, ${fig(f['cluster:waves'], 2)} on the cluster.`,
    '',
    `How the round trips are counted: \`INFO commandstats\` and \`total_reads_processed\` of every master before and after each warm run, the difference divided by the pages the gateway answered (its \`fragment_requests_total\` over the page's three fragments; the requests still in flight when the load stops are waited for and counted; the bench's own \`INFO\` calls left out). The gateway sends only scripts on this path, as \`EVALSHA\`: the resolve, one call per hash slot of the page's copies, all sent at once (libs/fragment/src/lib/fragment-store.ts, \`forEachSlot\`), with the viewer's rate-limit count in the call of the viewer's slot; or, for a page whose copies are all in the gateway's near cache, nothing but, now and then, the count that takes the viewer's next hits ahead (libs/fragment/src/lib/count-allowances.ts). The rate-limit guard's own \`EVAL\` (@nest-lab/throttler-storage-redis sends the script's text each time) goes only for routes that do not count in their own call, none on this path. So pipeline waves per page = \`EVAL\` calls per page + the share of pages that made any \`EVALSHA\` (a viewer's three copies share the slot \`{u<id>}\`, so one call): **at most one wave per page, on single Redis as on the cluster, and none for a page served and counted from the gateway's memory.** Socket reads are what the servers saw: a wave is one read on the one master it goes to, and under load several requests can arrive in one read, so reads per page can be under the waves. The idle processes' own traffic (Bull's timers) is in every figure: ${num(background.single ?? Number.NaN, 1)} commands/s on single Redis, ${num(background.cluster ?? Number.NaN, 1)} on the cluster, measured for 1 s with no load, so ${num((background.single ?? Number.NaN) / f['single:rps'].median, 3)} and ${num((background.cluster ?? Number.NaN) / f['cluster:rps'].median, 3)} commands per page at these rates.`,
    '',
    `Commands run per page, by command (median over runs): single Redis ${breakdown('single')}; cluster ${breakdown('cluster')}.`,
    '',
    `Keys on each master of the cluster after the runs (\`DBSIZE\`): ${keysPerMaster.map((n) => num(n)).join(', ')}.`,
  ].join('\n');
  return {
    id: 'redis-cluster',
    title: '10. Redis Cluster beside single Redis: warm page and engine',
    headline: {
      warmRpsRatio: of('rps'),
      warmP50Ratio: of('p50'),
      warmP99Ratio: of('p99'),
      engineRatio: of('bps'),
      redisCpuPerPageRatio: of('redisUs'),
      singleWarmRps: f['single:rps'].median,
      clusterWarmRps: f['cluster:rps'].median,
      singleBuildsPerSecond: f['single:bps'].median,
      clusterBuildsPerSecond: f['cluster:bps'].median,
      singleScriptsPerPage: f['single:scripts'].median,
      clusterScriptsPerPage: f['cluster:scripts'].median,
      singleWavesPerPage: f['single:waves'].median,
      clusterWavesPerPage: f['cluster:waves'].median,
      singleCommandsPerPage: f['single:commands'].median,
      clusterCommandsPerPage: f['cluster:commands'].median,
      singleReadsPerPage: f['single:reads'].median,
      clusterReadsPerPage: f['cluster:reads'].median,
    },
    markdown,
    figures: { ...f, perCommand, background, keysPerMaster },
  };
}

/** A gateway and the fragment workers on `redis` (no invalidation worker: nothing is written here). */
async function startSide(ctx: BenchContext, variant: Variant, redis: BenchRedis): Promise<Side> {
  const started = await Promise.allSettled(
    (['gateway', ...FRAGMENT_WORKERS] as const).map((name) =>
      ctx.stack.startApp(name, { env: { ...redis.env }, label: `${name} (${variant})` }),
    ),
  );
  const apps = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    for (const app of apps) await ctx.stack.stop(app);
    throw failed.reason;
  }
  return { variant, redis, gateway: apps[0], apps };
}

/** Dashboards the gateway has answered so far (each resolves every dashboard fragment once). */
async function pagesServed(gateway: RunningApp): Promise<number> {
  return sumOf(await scrape(gateway.url), 'fragment_requests_total') / DASHBOARD_NAMES.length;
}

/** Long enough for the requests in flight when a load stopped to be answered. */
function settle(p99Ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(3000, Math.max(250, 2 * p99Ms))));
}

function countCalls(stats: RedisServerStats): number {
  return Object.entries(stats.calls).reduce((sum, [command, n]) => (command === 'info' ? sum : sum + n), 0);
}

/** What one warm run cost Redis per page. */
function perPage(
  done: RedisServerStats,
  pages: number,
): { commands: Record<string, number>; executed: number; scripts: number; waves: number } {
  const commands: Record<string, number> = {};
  for (const [command, n] of Object.entries(done.calls)) if (command !== 'info') commands[command] = n / pages;
  const scripts = SCRIPT_COMMANDS.reduce((sum, c) => sum + (commands[c] ?? 0), 0);
  // The rate limit's EVAL is a wave of its own before the resolve; the resolve's calls leave together.
  const waves = (commands['eval'] ?? 0) + Math.min(1, commands['evalsha'] ?? 0);
  return { commands, executed: countCalls(done) / pages, scripts, waves };
}

function medianPerCommand(runs: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const names = new Set(runs.flatMap((r) => Object.keys(r)));
  return Object.fromEntries([...names].map((name) => [name, median(runs.map((r) => r[name] ?? 0))]));
}
