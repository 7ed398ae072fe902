import { bullQueuePrefix } from '@worker-pattern/fragment';
import type { BenchContext } from '../context';
import { openStream, type OpenStream } from '../load';
import { scrape, sumOf } from '../prometheus';
import { mib, num, type ScenarioResult, table } from '../report';
import { JWT_SECRET, type RunningApp, BenchStack, STACK_APPS, type StackApp } from '../stack';
import { waitForIdleQueues } from '../system';
import { signViewerToken } from '../tokens';
import { percentile } from '../stats';

const CELEBRITY = 1;
/** Regular users of the scenario's database (`--scale 0.1`); the fans come after them. */
const REGULAR_USERS = 1_000;
const RSS_SAMPLE_MS = 20;

type Mode = 'pull' | 'push';

interface PostSample {
  /** ms from sending the post to each watching fan's stream showing it in their feed. */
  readonly visibleMs: number[];
  /** ms from sending the post to the invalidations queue being idle again (the whole fan-out). */
  readonly fanoutMs: number;
  /** Invalidation worker: peak RSS while the post fans out, minus its RSS right before. */
  readonly rssGrowth: number;
  /** Copies the invalidation worker touched for the post (fragment_invalidations_total). */
  readonly invalidations: number;
  /** Readiness events the gateway received meanwhile (it watches the fans' copies only). */
  readonly gatewayEvents: number;
}

/** A fan's open dashboard stream, remembering the newest feed it was shown. */
class FanStream {
  private newest = new Set<string>();
  private waiters: Array<{ postId: string; resolve: (ms: number) => void; since: number }> = [];
  readonly stream: OpenStream;

  constructor(url: string, token: string) {
    this.stream = openStream(url, token, (e) => {
      if (e.event !== 'fragment' || e.data['name'] !== 'feed' || e.data['status'] !== 'ready') return;
      const posts = (e.data['data'] as { posts?: Array<{ id: string }> } | undefined)?.posts ?? [];
      this.newest = new Set(posts.map((p) => p.id));
      for (const w of [...this.waiters]) {
        if (!this.newest.has(w.postId)) continue;
        w.resolve(performance.now() - w.since);
        this.waiters = this.waiters.filter((x) => x !== w);
      }
    });
  }

  ready(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (this.newest.size > 0 ? resolve() : setTimeout(check, 20));
      check();
    });
  }

  /** ms from `since` to the first ready feed holding the post. */
  shows(postId: string, since: number, timeoutMs = 600_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`post ${postId} not shown within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        postId,
        since,
        resolve: (ms) => {
          clearTimeout(timer);
          resolve(ms);
        },
      });
    });
  }
}

/**
 * Scenario 10 (issue 12): a post by an account with a million followers. Its own database, seeded
 * with `db-cli seed --scale 0.1 --celebrities 1 --celebrity-followers N` (timed), and the whole
 * stack, twice: hybrid (the default threshold: the post is pulled by followers' feeds) and pushed
 * (the threshold raised to 4N: the worker invalidates all N feeds, a page of 1,000 per job, and no
 * feed pulls). Per
 * post: the invalidation worker's RSS growth, the whole fan-out's time, and the time until each of a
 * few fans watching their dashboard (an open stream) sees the post.
 */
export async function fanout(ctx: BenchContext): Promise<ScenarioResult> {
  const { fanoutFollowers: followers, fanoutPosts: posts, fanoutWatchers: watchers } = ctx.sizes;
  const stack = new BenchStack();
  const results: Record<Mode, PostSample[]> = { pull: [], push: [] };
  let seedMs = 0;
  try {
    ctx.log(`  seeding ${num(followers)} followers of user ${CELEBRITY}`);
    const t0 = performance.now();
    await stack.seed(['--scale', '0.1', '--celebrities', '1', '--celebrity-followers', String(followers)]);
    seedMs = performance.now() - t0;
    for (const mode of ['pull', 'push'] as const) {
      // Push: a threshold so high that the fan-out pushes and no feed pulls (feeds pull from half of it).
      const env: Record<string, string> = mode === 'push' ? { FANOUT_CELEBRITY_FOLLOWERS: String(followers * 4) } : {};
      const apps = await startAll(stack, env);
      try {
        for (let i = 0; i < posts; i++) {
          const fans = Array.from({ length: watchers }, (_, j) => fanOf(followers, mode, i, j, watchers));
          const sample = await onePost(ctx, stack, apps, fans, `${mode} ${i}`);
          results[mode].push(sample);
          ctx.log(
            `  ${mode}: visible p50 ${percentile(sample.visibleMs, 50).toFixed(0)} ms, fan-out ${sample.fanoutMs.toFixed(0)} ms, ` +
              `${num(sample.invalidations)} invalidations, RSS +${mib(sample.rssGrowth)}, gateway events ${sample.gatewayEvents}`,
          );
        }
      } finally {
        await Promise.all(Object.values(apps).map((app) => stack.stop(app)));
      }
    }
  } finally {
    await stack.cleanup();
  }

  const row = (mode: Mode, label: string) => {
    const s = results[mode];
    const visible = s.flatMap((x) => x.visibleMs);
    return [
      label,
      `${num(percentile(visible, 50))} / ${num(Math.max(...visible))} ms`,
      `${num(Math.max(...s.map((x) => x.fanoutMs)))} ms`,
      num(Math.max(...s.map((x) => x.invalidations))),
      mib(Math.max(...s.map((x) => x.rssGrowth))),
      num(Math.max(...s.map((x) => x.gatewayEvents))),
    ];
  };
  const markdown = [
    `User ${CELEBRITY} has ${num(followers)} followers (seeded in ${num(seedMs / 1000, 1)} s with \`db-cli seed --scale 0.1 --celebrities 1 --celebrity-followers ${followers}\`). ${posts} post(s) per mode, one at a time, each watched by ${watchers} followers with their dashboard stream open (fresh fans for each post, spread evenly over the follower order). Visible: from sending \`POST /api/posts\` to the fan's stream pushing a \`ready\` feed that holds it. Fan-out: until the invalidations queue is idle again. RSS growth: the invalidation worker's peak resident set during the fan-out (sampled every ${RSS_SAMPLE_MS} ms) minus its size right before the post. Gateway events: readiness events the gateway received meanwhile (it only receives those of copies its streams watch).`,
    '',
    table(
      ['mode', 'post → visible p50 / slowest', 'fan-out done', 'invalidations', 'worker RSS growth', 'gateway events'],
      [
        row('pull', 'hybrid (default: followers’ feeds pull the post)'),
        row('push', `pushed (threshold ${num(followers * 4)}: pages of 1,000, no feed pulls)`),
      ],
    ),
  ].join('\n');
  const all = (mode: Mode) => results[mode].flatMap((x) => x.visibleMs);
  return {
    id: 'fanout',
    title: '11. A post by an account with a million followers',
    headline: {
      seedSeconds: seedMs / 1000,
      pullVisibleP50Ms: percentile(all('pull'), 50),
      pullVisibleMaxMs: Math.max(...all('pull')),
      pullInvalidations: Math.max(...results.pull.map((x) => x.invalidations)),
      pullRssGrowth: Math.max(...results.pull.map((x) => x.rssGrowth)),
      pushVisibleP50Ms: percentile(all('push'), 50),
      pushFanoutMs: Math.max(...results.push.map((x) => x.fanoutMs)),
      pushRssGrowth: Math.max(...results.push.map((x) => x.rssGrowth)),
    },
    markdown,
    figures: { followers, seedMs, ...results },
    runs: 1,
  };
}

/**
 * Fans spread evenly over the follower order (a pushed post reaches them page by page), distinct for
 * every post of both modes (a fan's first feed is cold; its stream warms it).
 */
function fanOf(followers: number, mode: Mode, post: number, index: number, perPost: number): number {
  const spread = Math.floor(((index + 0.5) * followers) / perPost);
  return REGULAR_USERS + 1 + spread + post * 2 + (mode === 'push' ? 1 : 0);
}

async function startAll(stack: BenchStack, env: Record<string, string>): Promise<Record<StackApp, RunningApp>> {
  const started = await Promise.all(STACK_APPS.map((name) => stack.startApp(name, { env })));
  return Object.fromEntries(started.map((a) => [a.name, a])) as Record<StackApp, RunningApp>;
}

async function onePost(
  ctx: BenchContext,
  stack: BenchStack,
  apps: Record<StackApp, RunningApp>,
  fans: number[],
  marker: string,
): Promise<PostSample> {
  const streamUrl = `${apps.gateway.url}/api/pages/dashboard/stream`;
  const streams = fans.map((fan) => new FanStream(streamUrl, signViewerToken(JWT_SECRET, fan)));
  try {
    await Promise.all(streams.map((s) => s.ready()));
    await waitForIdleQueues(stack.redis, stack.bullPrefix);
    await invalidationsIdle(stack);
    const worker = apps['invalidation-worker'];
    const [workerBefore, gatewayBefore] = await Promise.all([scrape(worker.url), scrape(apps.gateway.url)]);
    const baseline = worker.proc.rss() ?? Number.NaN;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, worker.proc.rss() ?? 0)), RSS_SAMPLE_MS);

    const since = performance.now();
    const created = await fetch(`${apps.gateway.url}/api/posts`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${signViewerToken(JWT_SECRET, CELEBRITY)}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ body: `bench fan-out ${marker}` }),
    });
    if (created.status !== 201) throw new Error(`post: ${created.status} ${await created.text()}`);
    const post = (await created.json()) as { id: string };
    const postsBefore = sumOf(workerBefore, 'write_fanout_posts_total');
    const [visibleMs, fanoutMs] = await Promise.all([
      Promise.all(streams.map((s) => s.shows(post.id, since))),
      (async () => {
        // Once the worker has taken the post, each page queues the next before it ends: idle is done.
        while (sumOf(await scrape(worker.url), 'write_fanout_posts_total') <= postsBefore) {
          await new Promise((r) => setTimeout(r, RSS_SAMPLE_MS));
        }
        await invalidationsIdle(stack);
        return performance.now() - since;
      })(),
    ]);
    clearInterval(sampler);
    peak = Math.max(peak, worker.proc.rss() ?? 0);
    const [workerAfter, gatewayAfter] = await Promise.all([scrape(worker.url), scrape(apps.gateway.url)]);
    ctx.log(`    post ${post.id}: fans ${fans.join(', ')}`);
    return {
      visibleMs,
      fanoutMs,
      rssGrowth: peak - baseline,
      invalidations:
        sumOf(workerAfter, 'fragment_invalidations_total') - sumOf(workerBefore, 'fragment_invalidations_total'),
      gatewayEvents:
        sumOf(gatewayAfter, 'fragment_events_received_total') - sumOf(gatewayBefore, 'fragment_events_received_total'),
    };
  } finally {
    for (const s of streams) s.stream.close();
  }
}

/** Waits until the invalidations queue holds nothing waiting, active or delayed. */
async function invalidationsIdle(stack: BenchStack): Promise<void> {
  const started = performance.now();
  const base = `${bullQueuePrefix(stack.bullPrefix, 'invalidations')}:invalidations`;
  for (;;) {
    const replies =
      (await stack.redis.pipeline().llen(`${base}:wait`).llen(`${base}:active`).zcard(`${base}:delayed`).exec()) ?? [];
    const idle = replies.every(([, n]) => n === 0);
    if (idle) return;
    if (performance.now() - started > 300_000) throw new Error('invalidations queue not idle after 300 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}
