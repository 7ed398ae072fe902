import type { BenchContext } from '../context';
import { mapPool, openStream, untilAllReady } from '../load';
import { type PromSample, scrape, sumOf } from '../prometheus';
import { fig, num, type ScenarioResult, table } from '../report';
import { percentile, RunSeries } from '../stats';
import { DASHBOARD_NAMES } from '../system';

const WORKER_OF: Record<string, 'profile-worker' | 'feed-worker' | 'recommendations-worker'> = {
  profile: 'profile-worker',
  feed: 'feed-worker',
  recommendations: 'recommendations-worker',
};

/** One fragment's way to the viewer: request → ready event, and the part of it after the build ended. */
interface Delivery {
  /** ms from the stream request to the fragment's `ready` event. */
  readonly ready: number;
  /** ms from the end of the build (the copy's `builtAt`, set by the worker) to that event. */
  readonly afterBuild: number;
  /** ms from the stream request to the stream's first event (the page's states once leased and enqueued). */
  readonly firstEvent: number;
}

/**
 * Opens a page stream for a cold viewer and times each fragment's first `ready` event, split at the
 * copy's `builtAt` (same machine, same clock: the part before it is lease, enqueue, queue wait,
 * claim and the build; after it, the write-back, the event (with the copy, or then the gateway's
 * read) and the push).
 */
async function deliveries(url: string, token: string, timeoutMs = 60_000): Promise<Record<string, Delivery>> {
  const out: Record<string, Delivery> = {};
  const requestedAt = Date.now();
  let firstEvent: number | undefined;
  let done!: () => void;
  const allReady = new Promise<void>((resolve) => (done = resolve));
  const stream = openStream(url, token, (e) => {
    firstEvent ??= e.at;
    const name = e.data['name'];
    if (e.event !== 'fragment' || typeof name !== 'string' || e.data['status'] !== 'ready' || out[name]) return;
    const builtAt = Date.parse(String(e.data['builtAt']));
    out[name] = { ready: e.at, afterBuild: requestedAt + e.at - builtAt, firstEvent: firstEvent ?? e.at };
    if (DASHBOARD_NAMES.every((n) => out[n])) done();
  });
  await untilAllReady(stream, allReady, timeoutMs);
  for (const [name, d] of Object.entries(out))
    if (!Number.isFinite(d.afterBuild)) throw new Error(`${name}'s ready event has no builtAt`);
  return out;
}

/**
 * Scenario 6: request → SSE `ready` event of each fragment for cold viewers, at 1, 10 and 50 page
 * streams at a time, against the builder's own time (fragment_build_seconds, over the same builds):
 * the difference is the engine's delivery overhead (lease, enqueue, queue wait, claim, result
 * write, event (with the copy, or then the gateway's read), push), the part after the build timed
 * on its own.
 */
export async function timeToFragment(ctx: BenchContext): Promise<ScenarioResult> {
  const { runs, ttfViewers, ttfConcurrency } = ctx.sizes;
  const system = await ctx.system();
  const streamUrl = `${system.gateway.url}/api/pages/dashboard/stream`;
  type Key =
    `c${number}:${string}:${'p50' | 'p99' | 'first' | 'build' | 'wait' | 'overhead' | 'overheadP99' | 'after50' | 'after99'}`;
  const series = new RunSeries<Key>();
  for (let run = 1; run <= runs; run++) {
    for (const concurrency of ttfConcurrency) {
      await system.waitForIdleQueues();
      const before = await scrapeWorkers(system.apps);
      // Enough viewers that most of the run has `concurrency` streams open.
      const viewers = system.viewers.take(Math.max(ttfViewers, 4 * concurrency));
      const times = await mapPool(viewers, concurrency, (v) => deliveries(streamUrl, system.token(v)));
      const after = await scrapeWorkers(system.apps);
      const c = `c${concurrency}` as const;
      const page = times.map((t) => Math.max(...DASHBOARD_NAMES.map((n) => t[n].ready)));
      series.addAll({ [`${c}:page:p50`]: percentile(page, 50), [`${c}:page:p99`]: percentile(page, 99) });
      for (const name of DASHBOARD_NAMES) {
        const ready = times.map((t) => t[name].ready);
        const afterBuild = times.map((t) => t[name].afterBuild);
        const d = (metric: string) =>
          sumOf(after[name], metric, { fragment: name }) - sumOf(before[name], metric, { fragment: name });
        const meanMs = (histogram: string) => (d(`${histogram}_sum`) / Math.max(1, d(`${histogram}_count`))) * 1000;
        const buildMs = meanMs('fragment_build_seconds');
        series.addAll({
          [`${c}:${name}:p50`]: percentile(ready, 50),
          [`${c}:${name}:p99`]: percentile(ready, 99),
          [`${c}:${name}:build`]: buildMs,
          [`${c}:${name}:wait`]: meanMs('fragment_queue_wait_seconds'),
          [`${c}:${name}:first`]: percentile(
            times.map((t) => t[name].firstEvent),
            50,
          ),
          [`${c}:${name}:overhead`]: percentile(ready, 50) - buildMs,
          [`${c}:${name}:overheadP99`]: percentile(ready, 99) - buildMs,
          [`${c}:${name}:after50`]: percentile(afterBuild, 50),
          [`${c}:${name}:after99`]: percentile(afterBuild, 99),
        });
      }
      ctx.log(
        `  run ${run}, ${concurrency} at a time: page p50 ${percentile(page, 50).toFixed(1)} ms; ${DASHBOARD_NAMES.map(
          (n) =>
            `${n} after build p50 ${percentile(
              times.map((t) => t[n].afterBuild),
              50,
            ).toFixed(1)} ms`,
        ).join(', ')}`,
      );
    }
  }
  const f = series.figures();
  const sections = ttfConcurrency.map((concurrency) => {
    const c = `c${concurrency}`;
    const rows = DASHBOARD_NAMES.map((name) => [
      name,
      fig(f[`${c}:${name}:p50` as Key], 1, 'ms'),
      fig(f[`${c}:${name}:p99` as Key], 1, 'ms'),
      fig(f[`${c}:${name}:build` as Key], 1, 'ms'),
      fig(f[`${c}:${name}:overhead` as Key], 1, 'ms'),
      fig(f[`${c}:${name}:first` as Key], 1, 'ms'),
      fig(f[`${c}:${name}:wait` as Key], 1, 'ms'),
      fig(f[`${c}:${name}:overheadP99` as Key], 1, 'ms'),
      `${fig(f[`${c}:${name}:after50` as Key], 1, 'ms')} / ${fig(f[`${c}:${name}:after99` as Key], 1, 'ms')}`,
    ]);
    rows.push([
      'whole page (last of the three)',
      fig(f[`${c}:page:p50` as Key], 1, 'ms'),
      fig(f[`${c}:page:p99` as Key], 1, 'ms'),
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
    return [
      `**${concurrency} page stream${concurrency === 1 ? '' : 's'} at a time**`,
      '',
      table(
        [
          'fragment',
          'request → ready p50',
          'p99',
          'builder (mean)',
          'overhead p50 (p50 − builder)',
          'of which: request → first event p50',
          'queue wait (mean)',
          'overhead p99 (p99 − builder)',
          'build end → ready event p50 / p99',
        ],
        rows,
      ),
    ].join('\n');
  });
  const markdown = [
    `At least ${num(ttfViewers)} cold viewers per run and level (four per stream at a time), page streams opened ${ttfConcurrency.join(', then ')} at a time: time from the stream request to each fragment's \`event: fragment\` with status \`ready\`. Builder time is the mean of \`fragment_build_seconds\` over exactly the builds of the run, "request → first event" the stream's first answer (the page's states, once its builds are leased and enqueued: the gateway's part), queue wait the mean of \`fragment_queue_wait_seconds\` (the gateway's enqueue → the worker starting the job, before its claim) over the same builds; "build end → ready event" is measured per request from the copy's \`builtAt\` (set by the worker when the build returns; same machine, same clock, millisecond resolution): the write-back, the event over Redis (carrying the copy; a copy over 16 KiB is read by the gateway) and the push.`,
    '',
    ...sections.flatMap((s) => [s, '']),
  ].join('\n');
  const one = `c${ttfConcurrency[0]}`;
  const most = `c${ttfConcurrency[1] ?? ttfConcurrency[0]}`;
  const headline: Record<string, number> = {
    pageP50: f[`${most}:page:p50` as Key].median,
    pageP99: f[`${most}:page:p99` as Key].median,
  };
  for (const name of DASHBOARD_NAMES) {
    headline[`${name}OverheadMs`] = f[`${most}:${name}:overhead` as Key].median;
    headline[`${name}OneViewerOverheadMs`] = f[`${one}:${name}:overhead` as Key].median;
    headline[`${name}OneViewerAfterBuildMs`] = f[`${one}:${name}:after50` as Key].median;
    headline[`${name}OneViewerQueueWaitMs`] = f[`${one}:${name}:wait` as Key].median;
  }
  return { id: 'time-to-fragment', title: '6. Time to fragment', headline, markdown, figures: f };
}

async function scrapeWorkers(apps: Readonly<Record<string, { url: string }>>): Promise<Record<string, PromSample[]>> {
  const out: Record<string, PromSample[]> = {};
  for (const [fragment, worker] of Object.entries(WORKER_OF)) out[fragment] = await scrape(apps[worker].url);
  return out;
}
