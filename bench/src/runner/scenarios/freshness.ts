import { feedFragment } from '@worker-pattern/feed';
import type { BenchContext } from '../context';
import { fig, num, type ScenarioResult, table } from '../report';
import { percentile, RunSeries } from '../stats';

type FeedFragment = { status: string; data?: { posts?: Array<{ id: string; author: { id: number } }> } };

const POLL_MS = 5;

/** A gateway to ask, and how to be each viewer there. */
export interface FeedGateway {
  readonly url: string;
  token(viewerId: number): string;
}

async function feedOf(system: FeedGateway, viewer: number): Promise<FeedFragment> {
  const response = await fetch(`${system.url}/api/fragments/feed`, {
    headers: { authorization: `Bearer ${system.token(viewer)}` },
  });
  if (response.status !== 200 && response.status !== 202) throw new Error(`feed of ${viewer}: ${response.status}`);
  return (await response.json()) as FeedFragment;
}

/**
 * One sample: the viewer has just looked at their dashboard (so counts as active); someone they
 * follow posts; ms from sending the post to the first read of the viewer's feed that holds it.
 * Reads poll every POLL_MS, as a client would on a push it has not got (the stream carries the
 * same rebuild as an event), so the figure is at most POLL_MS late.
 */
export async function postToVisible(
  system: FeedGateway,
  viewer: number,
  marker: string,
  timeoutMs = 30_000,
): Promise<number | undefined> {
  const feed = await feedOf(system, viewer);
  const author = feed.data?.posts?.[0]?.author.id;
  if (author === undefined) return undefined;
  const t0 = performance.now();
  const created = await fetch(`${system.url}/api/posts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${system.token(author)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ body: `bench freshness ${marker}` }),
  });
  if (created.status !== 201) throw new Error(`post by ${author}: ${created.status} ${await created.text()}`);
  const post = (await created.json()) as { id: string };
  for (;;) {
    const current = await feedOf(system, viewer);
    if (current.data?.posts?.some((p) => p.id === post.id)) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`post ${post.id} not in the feed of ${viewer} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Scenario 8 (issue 4's freshness): a new post reaches a follower's feed through the outbox, the
 * relay, the invalidation fan-out to every follower's feed and the proactive rebuild of the ones
 * recently looked at — measured from the POST to the first read that shows it, against the feed's
 * ttl (the only bound a cache without invalidation would give).
 */
export async function freshness(ctx: BenchContext): Promise<ScenarioResult> {
  const { runs, freshnessSamples } = ctx.sizes;
  const system = await ctx.system();
  const gateway: FeedGateway = { url: system.gateway.url, token: (viewer) => system.token(viewer) };
  const series = new RunSeries<'p50' | 'p99' | 'max'>();
  const all: number[] = [];
  for (let run = 1; run <= runs; run++) {
    await system.waitForIdleQueues();
    const viewers = system.viewers.take(freshnessSamples);
    await system.rewarm(viewers);
    await system.waitForIdleQueues();
    const times: number[] = [];
    // One at a time: each sample's rebuild is not queued behind another's fan-out.
    for (const [i, viewer] of viewers.entries()) {
      const sample = await postToVisible(gateway, viewer, `${run}-${i}-${viewer}`);
      if (sample !== undefined) times.push(sample);
    }
    if (times.length < viewers.length / 2)
      throw new Error(`only ${times.length} of ${viewers.length} viewers follow anyone who posts`);
    all.push(...times);
    series.addAll({ p50: percentile(times, 50), p99: percentile(times, 99), max: Math.max(0, ...times) });
    ctx.log(
      `  run ${run}: ${times.length} posts, visible p50 ${percentile(times, 50).toFixed(0)} ms, p99 ${percentile(times, 99).toFixed(0)} ms`,
    );
  }
  const f = series.figures();
  const ttlSeconds = feedFragment.ttlMs / 1000;
  const markdown = [
    `${num(freshnessSamples)} posts per run, one at a time, each by someone the reading viewer follows (taken from the viewer's own feed), right after the viewer loaded their dashboard: time from sending \`POST /api/posts\` to the first \`GET /api/fragments/feed\` (polled every ${POLL_MS} ms) that lists the new post. The path: the post and its outbox row commit together, the relay moves the row to the invalidation queue, the invalidation worker marks the feeds of all the author's followers stale and queues a background rebuild of the recently active ones, the feed worker rebuilds.`,
    '',
    table(
      ['post → visible in a follower’s feed', 'p50', 'p99', 'slowest'],
      [
        [
          'per run (median and range over runs)',
          fig(f['p50'], 0, 'ms'),
          fig(f['p99'], 0, 'ms'),
          fig(f['max'], 0, 'ms'),
        ],
      ],
    ),
    '',
    `Over all ${num(all.length)} posts: p50 ${num(percentile(all, 50))} ms, p99 ${num(percentile(all, 99))} ms — against the feed's ${ttlSeconds} s ttl, the staleness a cache without write invalidation would allow.`,
  ].join('\n');
  return {
    id: 'freshness',
    title: '8. Freshness: a post reaches a follower’s feed',
    headline: {
      p50Ms: f['p50'].median,
      p99Ms: f['p99'].median,
      allP50Ms: percentile(all, 50),
      allP99Ms: percentile(all, 99),
    },
    markdown,
    figures: { ...f, samples: all },
  };
}
