import type { BenchContext } from '../context';
import { mapPool, timeToReady } from '../load';
import { type PromSample, scrape, sumOf } from '../prometheus';
import { fig, num, type ScenarioResult, table } from '../report';
import { percentile, RunSeries } from '../stats';
import { DASHBOARD_NAMES } from '../system';

const WORKER_OF: Record<string, 'profile-worker' | 'feed-worker' | 'recommendations-worker'> = {
  profile: 'profile-worker',
  feed: 'feed-worker',
  recommendations: 'recommendations-worker',
};

/**
 * Scenario 6: request → SSE `ready` event of each fragment for cold viewers, against the builder's
 * own time (fragment_build_seconds, over the same builds): the difference is the engine's overhead
 * (lease, enqueue, queue wait, claim, result write, event, the gateway's read and push).
 */
export async function timeToFragment(ctx: BenchContext): Promise<ScenarioResult> {
  const { runs, ttfViewers, ttfConcurrency } = ctx.sizes;
  const system = await ctx.system();
  const streamUrl = `${system.gateway.url}/api/pages/dashboard/stream`;
  type Key = `${string}:${'p50' | 'p99' | 'build' | 'overhead'}`;
  const series = new RunSeries<Key>();
  for (let run = 1; run <= runs; run++) {
    await system.waitForIdleQueues();
    const before = await scrapeWorkers(system.apps);
    const viewers = system.viewers.take(ttfViewers);
    const times = await mapPool(viewers, ttfConcurrency, (v) =>
      timeToReady(streamUrl, system.token(v), DASHBOARD_NAMES),
    );
    const after = await scrapeWorkers(system.apps);
    for (const name of [...DASHBOARD_NAMES, 'page']) {
      const values = times.map((t) => t[name]);
      series.addAll({ [`${name}:p50`]: percentile(values, 50), [`${name}:p99`]: percentile(values, 99) });
      if (name === 'page') continue;
      const d = (metric: string) =>
        sumOf(after[name], metric, { fragment: name }) - sumOf(before[name], metric, { fragment: name });
      const buildMs = (d('fragment_build_seconds_sum') / Math.max(1, d('fragment_build_seconds_count'))) * 1000;
      series.addAll({ [`${name}:build`]: buildMs, [`${name}:overhead`]: percentile(values, 50) - buildMs });
    }
    ctx.log(
      `  run ${run}: ${DASHBOARD_NAMES.map(
        (n) =>
          `${n} p50 ${percentile(
            times.map((t) => t[n]),
            50,
          ).toFixed(1)} ms`,
      ).join(', ')}`,
    );
  }
  const f = series.figures();
  const rows = DASHBOARD_NAMES.map((name) => [
    name,
    fig(f[`${name}:p50`], 1, 'ms'),
    fig(f[`${name}:p99`], 1, 'ms'),
    fig(f[`${name}:build`], 1, 'ms'),
    fig(f[`${name}:overhead`], 1, 'ms'),
  ]);
  rows.push(['whole page (last of the three)', fig(f['page:p50'], 1, 'ms'), fig(f['page:p99'], 1, 'ms'), '', '']);
  const markdown = [
    `${num(ttfViewers)} cold viewers per run, ${ttfConcurrency} page streams at a time: time from the stream request to each fragment's \`event: fragment\` with status \`ready\`. Builder time is the mean of \`fragment_build_seconds\` over exactly the builds of the run.`,
    '',
    table(['fragment', 'request → ready event p50', 'p99', 'builder (mean)', 'overhead at p50 (p50 − builder)'], rows),
  ].join('\n');
  const headline: Record<string, number> = { pageP50: f['page:p50'].median, pageP99: f['page:p99'].median };
  for (const name of DASHBOARD_NAMES) headline[`${name}OverheadMs`] = f[`${name}:overhead`].median;
  return { id: 'time-to-fragment', title: '6. Time to fragment', headline, markdown, figures: f };
}

async function scrapeWorkers(apps: Readonly<Record<string, { url: string }>>): Promise<Record<string, PromSample[]>> {
  const out: Record<string, PromSample[]> = {};
  for (const [fragment, worker] of Object.entries(WORKER_OF)) out[fragment] = await scrape(apps[worker].url);
  return out;
}
