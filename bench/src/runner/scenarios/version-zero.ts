import { availableParallelism } from 'node:os';
import type { BenchContext } from '../context';
import { cpuDelta, cpuSnapshot } from '../cpu-time';
import { type LoadResult, mapPool, runLoad, timeToReady } from '../load';
import { scrape, sumOf } from '../prometheus';
import { fig, num, ratioText, type ScenarioResult, table } from '../report';
import { percentile, RunSeries } from '../stats';
import { DASHBOARD_NAMES } from '../system';

type Metric = 'rps' | 'p50' | 'p99';
type Variant = 'gwCold' | 'fatCold' | 'gwWarm' | 'fatWarm';
/** Whose CPU a cold page is split over: the fat controller, or the gateway, its workers and the rest. */
const CPU_GROUPS = ['fat', 'gateway', ...DASHBOARD_NAMES, 'invalidation', 'redis', 'postgres', 'client'] as const;
type CpuGroup = (typeof CPU_GROUPS)[number];
const CPU_GROUP_LABELS: Record<string, string> = {
  fat: 'fat controller',
  gateway: 'gateway',
  redis: 'Redis',
  invalidation: 'invalidation worker',
  postgres: 'Postgres (this run’s backends alive at the phase’s end)',
  client: 'load generator (this process)',
};

/** Fraction of the fragments a gateway served as `ready` between two scrapes. */
async function readyShare(url: string, run: () => Promise<LoadResult>): Promise<{ result: LoadResult; ready: number }> {
  const before = await scrape(url);
  const result = await run();
  const after = await scrape(url);
  const d = (labels: Record<string, string>) =>
    sumOf(after, 'fragment_requests_total', labels) - sumOf(before, 'fragment_requests_total', labels);
  return { result, ready: d({ status: 'ready' }) / Math.max(1, d({})) };
}

function expectOk(name: string, r: LoadResult): void {
  if (r.non2xx > 0 || r.errors > 0)
    throw new Error(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors (${JSON.stringify(r.statuses)})`);
}

/**
 * Scenario 1: version zero (a fat controller building the dashboard inline with the same builders
 * on the same database) against the worker pattern (the gateway), cold and warm, 50 connections.
 * Per repetition: gateway cold, fat cold, gateway time-to-complete-page, gateway warm, fat warm.
 */
export async function versionZero(ctx: BenchContext): Promise<ScenarioResult> {
  const { runs, connections, loadSeconds } = ctx.sizes;
  const system = await ctx.system();
  const gateway = system.gateway.url;
  const fat = await ctx.stack.startBenchApp('fat-controller', { env: { DATABASE_POOL_SIZE: '30' } });
  const warm = system.warmViewers();
  const series = new RunSeries<
    | `${Variant}:${Metric}`
    | 'gwColdBuiltS'
    | 'gwColdPagesPerS'
    | 'completeP50'
    | 'completeP99'
    | 'gwWarmReady'
    | `cpu:${'gw' | 'fat'}:${CpuGroup | 'all'}`
  >();
  // CPU per cold page by process, each variant's own phase: what the pattern adds per page.
  const pids = async () => ({ ...(await system.cpuPids()), fat: [fat.proc.pid ?? -1] });
  const cpuPerPage = async (variant: 'gw' | 'fat', pages: number, work: () => Promise<void>) => {
    const before = cpuSnapshot(await pids());
    await work();
    const used = cpuDelta(before, cpuSnapshot(await pids()));
    for (const group of CPU_GROUPS) series.add(`cpu:${variant}:${group}`, used[group] / pages);
    series.add(`cpu:${variant}:all`, CPU_GROUPS.reduce((t, g) => t + used[g], 0) / pages);
  };
  const path = '/api/pages/dashboard';
  try {
    // Untimed warm-up of both servers (JIT, connection pools, token caches): a few cold pages, then warm ones.
    const warmUpCold = system.viewers.take(50);
    await runLoad({ url: gateway, path, connections, amount: warmUpCold.length, tokens: system.tokensOf(warmUpCold) });
    await runLoad({ url: fat.url, path, connections, amount: warmUpCold.length, tokens: system.tokensOf(warmUpCold) });
    await system.rewarm(warm);
    for (const url of [gateway, fat.url])
      await runLoad({ url, path, connections, duration: ctx.sizes.warmupSeconds, tokens: system.tokensOf(warm) });
    await system.waitForIdleQueues();

    for (let run = 1; run <= runs; run++) {
      // Cold, gateway: every request a viewer nobody asked for; answers `pending` and enqueues.
      const coldGw = system.viewers.take(ctx.sizes.coldGatewayViewers);
      const t0 = performance.now();
      const gwCold = await runLoad({
        url: gateway,
        path,
        connections,
        amount: coldGw.length,
        tokens: system.tokensOf(coldGw),
      });
      expectOk('gateway cold', gwCold);
      await system.waitForIdleQueues();
      const builtS = (performance.now() - t0) / 1000;
      series.addAll({
        'gwCold:rps': gwCold.rps,
        'gwCold:p50': gwCold.p50,
        'gwCold:p99': gwCold.p99,
        gwColdBuiltS: builtS,
        gwColdPagesPerS: coldGw.length / builtS,
      });
      ctx.log(
        `  run ${run} gateway cold: ${num(gwCold.rps)} req/s, p50 ${gwCold.p50.toFixed(1)} ms, p99 ${gwCold.p99.toFixed(1)} ms; every page built ${builtS.toFixed(1)} s after the first request`,
      );

      // Cold, fat controller: fresh viewers too.
      // Its pool closed idle connections while the gateway ran: warm it again (untimed), as the
      // workers' pools are, so the phase does not count Postgres starting backends.
      const poolWarmUp = system.viewers.take(connections);
      await runLoad({
        url: fat.url,
        path,
        connections,
        amount: poolWarmUp.length,
        tokens: system.tokensOf(poolWarmUp),
      });
      const coldFat = system.viewers.take(ctx.sizes.coldFatViewers);
      let fatCold!: LoadResult;
      await cpuPerPage('fat', coldFat.length, async () => {
        fatCold = await runLoad({
          url: fat.url,
          path,
          connections,
          amount: coldFat.length,
          tokens: system.tokensOf(coldFat),
        });
      });
      expectOk('fat controller cold', fatCold);
      series.addAll({ 'fatCold:rps': fatCold.rps, 'fatCold:p50': fatCold.p50, 'fatCold:p99': fatCold.p99 });
      ctx.log(
        `  run ${run} fat cold: ${num(fatCold.rps)} req/s, p50 ${fatCold.p50.toFixed(1)} ms, p99 ${fatCold.p99.toFixed(1)} ms`,
      );

      // Time to a complete page on the gateway: SSE streams of cold viewers, `connections` at once.
      const streams = system.viewers.take(ctx.sizes.completePageViewers);
      let times!: Record<string, number>[];
      await cpuPerPage('gw', streams.length, async () => {
        times = await mapPool(streams, connections, (v) =>
          timeToReady(`${gateway}${path}/stream`, system.token(v), DASHBOARD_NAMES),
        );
        await system.waitForIdleQueues();
      });
      const pages = times.map((t) => t['page']);
      series.addAll({ completeP50: percentile(pages, 50), completeP99: percentile(pages, 99) });
      ctx.log(
        `  run ${run} gateway complete page (SSE): p50 ${percentile(pages, 50).toFixed(1)} ms, p99 ${percentile(pages, 99).toFixed(1)} ms`,
      );

      // Warm: the same viewers over and over, every copy fresh.
      await system.rewarm(warm);
      const { result: gwWarm, ready } = await readyShare(gateway, () =>
        runLoad({ url: gateway, path, connections, duration: loadSeconds, tokens: system.tokensOf(warm) }),
      );
      expectOk('gateway warm', gwWarm);
      series.addAll({
        'gwWarm:rps': gwWarm.rps,
        'gwWarm:p50': gwWarm.p50,
        'gwWarm:p99': gwWarm.p99,
        gwWarmReady: ready,
      });
      ctx.log(
        `  run ${run} gateway warm: ${num(gwWarm.rps)} req/s, p50 ${gwWarm.p50.toFixed(1)} ms, p99 ${gwWarm.p99.toFixed(1)} ms (${(ready * 100).toFixed(1)} % ready)`,
      );

      const fatWarm = await runLoad({
        url: fat.url,
        path,
        connections,
        duration: loadSeconds,
        tokens: system.tokensOf(warm),
      });
      expectOk('fat controller warm', fatWarm);
      series.addAll({ 'fatWarm:rps': fatWarm.rps, 'fatWarm:p50': fatWarm.p50, 'fatWarm:p99': fatWarm.p99 });
      ctx.log(
        `  run ${run} fat warm: ${num(fatWarm.rps)} req/s, p50 ${fatWarm.p50.toFixed(1)} ms, p99 ${fatWarm.p99.toFixed(1)} ms`,
      );
    }
  } finally {
    await ctx.stack.stop(fat);
  }
  const f = series.figures();
  const row = (label: string, v: Variant) => [
    label,
    fig(f[`${v}:rps`]),
    fig(f[`${v}:p50`], 1, 'ms'),
    fig(f[`${v}:p99`], 1, 'ms'),
  ];
  const cores = availableParallelism();
  const predicted = (variant: 'gw' | 'fat') => (connections * f[`cpu:${variant}:all`].median) / cores;
  const cpuCell = (variant: 'gw' | 'fat', group: CpuGroup | 'all') => fig(f[`cpu:${variant}:${group}`], 2, 'ms');
  const headline = {
    warmThroughputRatio: f['gwWarm:rps'].median / f['fatWarm:rps'].median,
    warmP99Ratio: f['fatWarm:p99'].median / f['gwWarm:p99'].median,
    coldP50Ratio: f['fatCold:p50'].median / f['gwCold:p50'].median,
    coldThroughputRatio: f['gwCold:rps'].median / f['fatCold:rps'].median,
    completePageP50Ms: f.completeP50.median,
    fatColdP50Ms: f['fatCold:p50'].median,
    coldPagesPerSecondRatio: f.gwColdPagesPerS.median / f['fatCold:rps'].median,
    completePageCpuMs: f['cpu:gw:all'].median,
    fatColdCpuMs: f['cpu:fat:all'].median,
  };
  const markdown = [
    `The gateway (worker pattern) against a "fat controller" (bench/src/fat-controller: Nest on Fastify, the gateway's own JWT guard, ProfileBuilder, FeedBuilder and RecommendationsBuilder run inline and in parallel per request on one TypeORM DataSource of 30 connections — as many as the three workers hold together — no cache, no request log, no rate limit). ${connections} connections; cold = ${num(ctx.sizes.coldGatewayViewers)} (gateway) and ${num(ctx.sizes.coldFatViewers)} (fat controller) viewers never requested before, one request each; warm = ${num(warm.length)} viewers over and over for ${loadSeconds} s, every copy rebuilt fresh right before each gateway run. Variants interleaved in every repetition.`,
    '',
    table(
      ['', 'req/s', 'p50', 'p99'],
      [
        row('gateway, cold (answers `pending` at once)', 'gwCold'),
        row('fat controller, cold', 'fatCold'),
        row('gateway, warm', 'gwWarm'),
        row('fat controller, warm', 'fatWarm'),
      ],
    ),
    '',
    `- **Warm: the gateway serves ${ratioText(headline.warmThroughputRatio, 1)} the fat controller's throughput**, with ${ratioText(headline.warmP99Ratio, 1)} lower p99 (${(f.gwWarmReady.median * 100).toFixed(1)} % of the fragments it served were \`ready\`).`,
    `- **Cold: the gateway answers ${ratioText(headline.coldP50Ratio)} sooner at p50** — but with \`pending\` placeholders, not a page. A pending answer is not a page, so:`,
    `- **Time to a complete page** on the gateway (cold viewer, request → the third fragment's SSE \`ready\` event, ${connections} streams at once): p50 ${fig(f.completeP50, 1, 'ms')}, p99 ${fig(f.completeP99, 1, 'ms')} — against the fat controller's cold p50 ${fig(f['fatCold:p50'], 1, 'ms')}, p99 ${fig(f['fatCold:p99'], 1, 'ms')}.`,
    `- The ${num(ctx.sizes.coldGatewayViewers)} cold pages of a gateway run were all built ${fig(f.gwColdBuiltS, 1, 's')} after the run's first request: ${fig(f.gwColdPagesPerS, 0, 'pages/s')} through the workers, ${ratioText(headline.coldPagesPerSecondRatio)} the fat controller's cold rate — the same builders on the same database do the same work; the pattern moves it out of the request, it does not make it cheaper.`,
    '',
    `CPU per cold page by process (user + system, /proc, over each variant's own phase: the ${num(ctx.sizes.completePageViewers)} streamed pages until every queue is idle, and the fat controller's ${num(ctx.sizes.coldFatViewers)} cold requests), divided by its pages; every process of the stack is counted in both phases (an idle one spends little: its timers and health checks), the rest of the machine (kernel threads, other work) in neither. If CPU alone limited a page, its mean latency at ${connections} at once on ${cores} cores would be ${connections} × its CPU / ${cores}: ${predicted('gw').toFixed(0)} ms for the worker pattern and ${predicted('fat').toFixed(0)} ms for the fat controller, against the p50s above (${fig(f.completeP50, 1, 'ms')} and ${fig(f['fatCold:p50'], 1, 'ms')}).`,
    '',
    table(
      ['process', 'worker pattern (complete page)', 'fat controller (cold)'],
      [
        ...CPU_GROUPS.map((g) => [CPU_GROUP_LABELS[g] ?? `${g} worker`, cpuCell('gw', g), cpuCell('fat', g)]),
        ['**all**', `**${cpuCell('gw', 'all')}**`, `**${cpuCell('fat', 'all')}**`],
      ],
    ),
  ].join('\n');
  return { id: 'version-zero', title: '1. Version zero vs the worker pattern', headline, markdown, figures: f };
}
