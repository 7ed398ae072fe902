import type { BenchContext } from '../context';
import { runLoad } from '../load';
import { scrape, sumOf } from '../prometheus';
import { fig, num, type ScenarioResult, table } from '../report';
import { RunSeries } from '../stats';

type Mode = 'now' | 'wait';

/**
 * Scenario 4: `burstRequests` concurrent requests (one connection each, different viewers) for one
 * cold fragment — the public profile of a user nobody has asked for — through the gateway. Counts
 * the builds the profile worker made for it (must be 1) and the gateway's enqueues. `now`: plain
 * requests (answered `pending`); `wait`: with waitMs=2000, every request waits for the one build.
 */
export async function burst(ctx: BenchContext): Promise<ScenarioResult> {
  const { runs, burstRequests } = ctx.sizes;
  const system = await ctx.system();
  const gateway = system.gateway.url;
  const worker = system.apps['profile-worker'].url;
  // Any viewers will do (a public fragment is the same for everyone): the first users, reused.
  const tokens = system.tokensOf(Array.from({ length: burstRequests }, (_, i) => 1 + (i % ctx.sizes.users)));
  const series = new RunSeries<`${Mode}:${'builds' | 'enqueues' | 'p50' | 'p99' | 'max' | 'pending'}`>();
  for (let run = 1; run <= runs; run++) {
    for (const mode of ['now', 'wait'] as const) {
      const [target] = system.viewers.take(1);
      const path = `/api/fragments/profile?userId=${target}${mode === 'wait' ? '&waitMs=2000' : ''}`;
      const builtBefore = sumOf(await scrape(worker), 'fragment_builds_total', {
        fragment: 'profile',
        outcome: 'built',
      });
      const enqueuedBefore = sumOf(await scrape(gateway), 'fragment_enqueues_total', { fragment: 'profile' });
      const r = await runLoad({
        url: gateway,
        path,
        connections: burstRequests,
        amount: burstRequests,
        tokens,
        timeout: 30,
      });
      if (r.errors > 0 || r.requests !== burstRequests)
        throw new Error(`burst: ${r.requests} answers, ${r.errors} errors`);
      // Let the one build land, then count.
      for (let i = 0; ; i++) {
        const answer = await fetch(`${gateway}/api/fragments/profile?userId=${target}&waitMs=2000`, {
          headers: { authorization: `Bearer ${tokens[0]}` },
        });
        await answer.arrayBuffer();
        if (answer.status === 200) break;
        if (i > 20) throw new Error(`profile ${target} never became ready (${answer.status})`);
      }
      await system.waitForIdleQueues();
      const builds =
        sumOf(await scrape(worker), 'fragment_builds_total', { fragment: 'profile', outcome: 'built' }) - builtBefore;
      const enqueues =
        sumOf(await scrape(gateway), 'fragment_enqueues_total', { fragment: 'profile' }) - enqueuedBefore;
      const pending = r.statuses['202'] ?? 0;
      series.addAll({
        [`${mode}:builds`]: builds,
        [`${mode}:enqueues`]: enqueues,
        [`${mode}:p50`]: r.p50,
        [`${mode}:p99`]: r.p99,
        [`${mode}:max`]: r.max,
        [`${mode}:pending`]: pending,
      });
      ctx.log(
        `  run ${run} ${mode}: ${builds} build(s), ${enqueues} enqueue(s); ${JSON.stringify(r.statuses)}; p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`,
      );
      if (builds !== 1)
        throw new Error(`a burst of ${burstRequests} requests for one cold fragment made ${builds} builds, not 1`);
    }
  }
  const f = series.figures();
  const markdown = [
    `${num(burstRequests)} requests at once (one connection each, ${num(burstRequests)} different viewers) for the public profile of a user nobody had requested; builds counted by the profile worker (\`fragment_builds_total{outcome="built"}\`), enqueues by the gateway (\`fragment_enqueues_total\`). A new user per run.`,
    '',
    table(
      ['', 'builds', 'enqueues', 'answered `pending` (202)', 'p50', 'p99', 'max'],
      [
        [
          'plain requests',
          fig(f['now:builds']),
          fig(f['now:enqueues']),
          fig(f['now:pending']),
          fig(f['now:p50'], 1, 'ms'),
          fig(f['now:p99'], 1, 'ms'),
          fig(f['now:max'], 1, 'ms'),
        ],
        [
          'with waitMs=2000 (each waits for the page)',
          fig(f['wait:builds']),
          fig(f['wait:enqueues']),
          fig(f['wait:pending']),
          fig(f['wait:p50'], 1, 'ms'),
          fig(f['wait:p99'], 1, 'ms'),
          fig(f['wait:max'], 1, 'ms'),
        ],
      ],
    ),
    '',
    `**One build per burst: ${f['now:builds'].max === 1 && f['wait:builds'].max === 1 ? 'yes, in every run' : 'NO'}.** The latency includes opening ${num(burstRequests)} connections at once; requests that arrive after the build has landed are answered \`ready\` (200).`,
  ].join('\n');
  return {
    id: 'burst',
    title: '4. One build per burst',
    headline: {
      builds: f['now:builds'].max,
      buildsWaiting: f['wait:builds'].max,
      p50: f['now:p50'].median,
      p99: f['now:p99'].median,
      waitP99: f['wait:p99'].median,
    },
    markdown,
    figures: f,
  };
}
