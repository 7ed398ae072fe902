import { cpus, loadavg } from 'node:os';
import { ACTIVE_READ_WINDOW_MS } from '@worker-pattern/fragment';
import type { BenchContext } from '../context';
import { openStream, type OpenStream } from '../load';
import { mib, num, type ScenarioResult, table } from '../report';
import { maxOf, mean, percentile } from '../stats';
import { DASHBOARD_FRAGMENTS, type BenchSystem } from '../system';

/** Each author posts once every this many ms (the authors staggered evenly over it). */
const POST_EVERY_MS = 4_000;
/** Authors each viewer follows (through the API, before the streams open). */
const FOLLOWS_PER_VIEWER = 3;
/** After the last post, how long every stream may still take to show it before it counts as missed. */
const GRACE_MS = 15_000;
/** The promise: a followee's post reaches an open dashboard within this. */
const VISIBLE_WITHIN_MS = 2_000;
/**
 * A fragment whose latest state on a stream is not `ready` for longer than its lease plus its build
 * timeout waits on a build that no longer exists (`pending`, `stale`); a `failed` one also gets the
 * longest failed-ttl, after which the next lease retries it.
 */
const NOT_READY_BOUND_MS: Record<string, Record<string, number>> = Object.fromEntries(
  DASHBOARD_FRAGMENTS.map((f) => {
    const bound = f.leaseMs + f.buildTimeoutMs;
    return [f.name, { pending: bound, stale: bound, failed: bound + f.failedTtlCapMs }];
  }),
);

/** One viewer's dashboard stream, open for the whole soak: when each post first showed in a ready feed. */
class ViewerStream {
  /** Post id → performance.now() of the first `ready` feed holding it. */
  readonly firstSeen = new Map<string, number>();
  /** Fragment name → its latest state other than `ready`, and since when (absent when `ready`). */
  private readonly notReadySince = new Map<string, { status: string; since: number }>();
  /** Fragment name → the stuck episode being counted (one count per episode, however long). */
  private readonly stuckNow = new Set<string>();
  stuck = 0;
  longestNotReadyMs = 0;
  failedEvents = 0;
  feedReady = false;
  endedEarly = false;
  readonly stream: OpenStream;

  constructor(
    url: string,
    token: string,
    readonly viewer: number,
  ) {
    this.stream = openStream(url, token, (e) => {
      if (e.event !== 'fragment') return;
      const name = String(e.data['name']);
      const status = String(e.data['status']);
      const now = performance.now();
      if (status === 'ready') {
        this.settle(name, now);
      } else {
        // pending → stale → failed is one episode of waiting, counted from its first event.
        const since = this.notReadySince.get(name)?.since ?? now;
        this.notReadySince.set(name, { status, since });
      }
      if (status === 'failed') this.failedEvents++;
      if (name !== 'feed' || status !== 'ready') return;
      this.feedReady = true;
      const posts = (e.data['data'] as { posts?: Array<{ id: string }> } | undefined)?.posts ?? [];
      for (const p of posts) if (!this.firstSeen.has(p.id)) this.firstSeen.set(p.id, now);
    });
  }

  private settle(name: string, now: number): void {
    const waiting = this.notReadySince.get(name);
    if (waiting === undefined) return;
    this.longestNotReadyMs = Math.max(this.longestNotReadyMs, now - waiting.since);
    this.notReadySince.delete(name);
    this.stuckNow.delete(name);
  }

  /** Counts every fragment not `ready` past its bound (once per episode); called every second. */
  checkNotReady(now: number): void {
    for (const [name, { status, since }] of this.notReadySince) {
      this.longestNotReadyMs = Math.max(this.longestNotReadyMs, now - since);
      const bound = NOT_READY_BOUND_MS[name]?.[status] ?? 0;
      if (now - since > bound && !this.stuckNow.has(name)) {
        this.stuckNow.add(name);
        this.stuck++;
      }
    }
  }
}

interface SentPost {
  readonly id: string;
  readonly author: number;
  /** performance.now() right before the POST was sent, and ms since the soak started. */
  readonly sentAt: number;
  readonly atMs: number;
}

/**
 * Scenario 12 (issue 12): liveness over time. `streams` viewers keep their dashboard stream open for
 * the whole soak (`--soak-minutes`), each following a few of `authors` authors, who post through the
 * API every few seconds. Every post must reach every stream that follows its author (a `ready` feed
 * holding it), no fragment may stay short of `ready` past its lease plus build timeout, and no stream may
 * end. Longer than the 10-minute "recently read" window, it shows that an open stream counts as read.
 */
export async function liveness(ctx: BenchContext): Promise<ScenarioResult> {
  const system = await ctx.system();
  const seconds = ctx.sizes.soakSeconds;
  const { livenessStreams: streamCount, livenessAuthors: authorCount } = ctx.sizes;
  const gateway = system.gateway.url;
  const authors = system.viewers.take(authorCount);
  const viewers = system.viewers.take(streamCount);
  const follows = new Map<number, number[]>(authors.map((a) => [a, []]));
  ctx.log(`  ${viewers.length} viewers follow ${FOLLOWS_PER_VIEWER} of ${authors.length} authors each`);
  for (const [i, viewer] of viewers.entries()) {
    for (let k = 0; k < FOLLOWS_PER_VIEWER; k++) {
      const author = authors[(i + k) % authors.length];
      await write(system, viewer, 'POST', '/api/follows', { userId: author });
      follows.get(author)?.push(i);
    }
  }
  await system.waitForIdleQueues();

  const streams = viewers.map(
    (viewer) => new ViewerStream(`${gateway}/api/pages/dashboard/stream`, system.token(viewer), viewer),
  );
  let closing = false;
  const sent: SentPost[] = [];
  const samples: Array<{ at: number; load: number; rss: Record<string, number> }> = [];
  let postErrors = 0;
  try {
    const codes = await Promise.all(streams.map((s) => s.stream.status));
    const refused = codes.filter((c) => c !== 200).length;
    if (refused > 0) throw new Error(`${refused} of ${streams.length} dashboard streams refused (${codes.join(',')})`);
    for (const s of streams) void s.stream.ended.then(() => (s.endedEarly = !closing));
    await until(() => streams.every((s) => s.feedReady), 120_000, 'every stream showing its first feed');
    ctx.memory.setPhase('liveness');

    const started = performance.now();
    const deadline = started + seconds * 1000;
    const checker = setInterval(() => {
      const now = performance.now();
      for (const s of streams) s.checkNotReady(now);
    }, 1000);
    const sampleEvery = seconds >= 120 ? 5 : 1;
    const sampler = setInterval(() => {
      const rss: Record<string, number> = {};
      for (const app of Object.values(system.apps)) rss[app.name] = app.proc.rss() ?? Number.NaN;
      samples.push({ at: performance.now() - started, load: loadavg()[0], rss });
    }, sampleEvery * 1000);
    // Each author on its own loop, staggered over the interval, so posts arrive evenly.
    await Promise.all(
      authors.map(async (author, k) => {
        await sleep((k * POST_EVERY_MS) / authors.length);
        for (let n = 1; performance.now() < deadline; n++) {
          const next = performance.now() + POST_EVERY_MS;
          const sentAt = performance.now();
          try {
            const body = await write(system, author, 'POST', '/api/posts', { body: `liveness ${author} #${n}` });
            sent.push({ id: (body as { id: string }).id, author, sentAt, atMs: sentAt - started });
          } catch (error) {
            postErrors++;
            ctx.log(`  post by ${author} failed: ${(error as Error).message}`);
          }
          await sleep(Math.max(0, Math.min(next, deadline) - performance.now()));
        }
      }),
    );
    clearInterval(sampler);
    // Every stream that follows the author of a post must show it; wait for the last ones.
    const expected = () => sent.flatMap((p) => (follows.get(p.author) ?? []).map((i) => ({ p, s: streams[i] })));
    await until(
      () => expected().every(({ p, s }) => s.firstSeen.has(p.id)),
      GRACE_MS,
      'the last posts on every stream',
    ).catch(() => undefined);
    clearInterval(checker);
    for (const s of streams) s.checkNotReady(performance.now());
  } finally {
    closing = true;
    for (const s of streams) s.stream.close();
  }
  ctx.memory.setPhase('after');

  // Latency of every (post, following stream) pair; a pair never shown is a miss.
  const windowStart = ACTIVE_READ_WINDOW_MS;
  const visible: number[] = [];
  const visibleAfterWindow: number[] = [];
  /** Every pair over the bound or never shown, kept whole in the JSON to find out when and where. */
  const late: Array<{ post: string; author: number; viewer: number; atMs: number; ms: number | null }> = [];
  const perMinute = new Map<number, number[]>();
  let misses = 0;
  for (const p of sent) {
    const minute = Math.floor(p.atMs / 60_000);
    for (const i of follows.get(p.author) ?? []) {
      const seen = streams[i].firstSeen.get(p.id);
      const pair = { post: p.id, author: p.author, viewer: streams[i].viewer, atMs: Math.round(p.atMs) };
      if (seen === undefined) {
        misses++;
        late.push({ ...pair, ms: null });
        continue;
      }
      const ms = Math.max(0, seen - p.sentAt);
      visible.push(ms);
      if (p.atMs > windowStart) visibleAfterWindow.push(ms);
      if (ms > VISIBLE_WITHIN_MS) late.push({ ...pair, ms: Math.round(ms) });
      let bucket = perMinute.get(minute);
      if (!bucket) perMinute.set(minute, (bucket = []));
      bucket.push(ms);
    }
  }
  // Per minute of the soak: how many pairs, their latency, how many over the bound, the machine's load.
  const minutes = [...perMinute.entries()]
    .sort(([a], [b]) => a - b)
    .map(([minute, values]) => {
      const load = samples.filter((x) => Math.floor(x.at / 60_000) === minute).map((x) => x.load);
      return {
        minute,
        pairs: values.length,
        p50Ms: percentile(values, 50),
        p99Ms: percentile(values, 99),
        maxMs: maxOf(values),
        overBound: values.filter((ms) => ms > VISIBLE_WITHIN_MS).length,
        loadMax: load.length > 0 ? maxOf(load) : Number.NaN,
      };
    });
  const stuck = streams.reduce((n, s) => n + s.stuck, 0);
  const ended = streams.filter((s) => s.endedEarly).length;
  const failedEvents = streams.reduce((n, s) => n + s.failedEvents, 0);
  const longestNotReady = maxOf(streams.map((s) => s.longestNotReadyMs));
  const overBound = visible.filter((ms) => ms > VISIBLE_WITHIN_MS).length;

  // RSS trend: the first and the last minute (a quarter of the soak when it is shorter).
  const window = Math.min(60, seconds / 4) * 1000;
  const end = samples.at(-1)?.at ?? 0;
  const trend = Object.keys(samples[0]?.rss ?? {}).map((name) => {
    const first = mean(samples.filter((s) => s.at <= window).map((s) => s.rss[name]));
    const last = mean(samples.filter((s) => s.at >= end - window).map((s) => s.rss[name]));
    return { name, first, last, growth: last / first - 1 };
  });

  const failures: string[] = [];
  if (misses > 0) failures.push(`${misses} (post, following stream) pairs never showed the post`);
  if (stuck > 0) failures.push(`${stuck} fragments stayed short of ready past lease + build timeout`);
  if (ended > 0) failures.push(`${ended} streams ended before the soak did`);
  if (postErrors > 0) failures.push(`${postErrors} posts failed`);
  if (sent.length === 0) failures.push('no post was sent');

  const lat = (values: number[]) =>
    values.length === 0
      ? 'n/a (the soak is shorter than the window)'
      : `${num(percentile(values, 50))} / ${num(percentile(values, 99))} / ${num(maxOf(values))} ms`;
  const w = (s: string) => (seconds >= 120 ? 'minute' : s);
  const windowLabel = `${(window / 1000).toFixed(0)} s`;
  const pairs = visible.length + misses;
  const markdown = [
    `${(seconds / 60).toFixed(seconds < 60 ? 2 : 0)} min with ${streams.length} dashboard streams (\`GET /api/pages/dashboard/stream\`, distinct viewers) open throughout; each viewer follows ${FOLLOWS_PER_VIEWER} of ${authors.length} authors (through the API, before the streams open), and each author posts through \`POST /api/posts\` every ${POST_EVERY_MS / 1000} s (staggered). Nothing else reads these dashboards: only the open streams keep them "recently read" (the window is ${ACTIVE_READ_WINDOW_MS / 60_000} min). Visible: from sending the post to the stream's first \`ready\` feed holding it; a (post, following stream) pair not shown within ${GRACE_MS / 1000} s of the last post is a miss. Stuck: a fragment whose latest event on a stream is \`pending\` or \`stale\` for longer than its lease plus build timeout (feed ${NOT_READY_BOUND_MS['feed']['pending'] / 1000} s), or \`failed\` for longer than that plus its longest failed-ttl. The soak ran on the system the other scenarios share.`,
    '',
    table(
      [
        'posts',
        '(post, stream) pairs',
        'missed',
        'post → visible p50 / p99 / max',
        `after the ${ACTIVE_READ_WINDOW_MS / 60_000}-min window`,
        `over ${VISIBLE_WITHIN_MS / 1000} s`,
        'stuck short of ready',
        'longest short of ready',
        'streams ended early',
        '`failed` events',
      ],
      [
        [
          num(sent.length),
          num(pairs),
          `**${num(misses)}**`,
          lat(visible),
          lat(visibleAfterWindow),
          num(overBound),
          `**${num(stuck)}**`,
          `${num(longestNotReady)} ms`,
          num(ended),
          num(failedEvents),
        ],
      ],
    ),
    '',
    failures.length === 0
      ? '**Every post reached every following stream; no stream stuck.**'
      : `**FAILED:** ${failures.join('; ')}.`,
    '',
    lateMinutesText(minutes, samples),
    '',
    table(
      ['process', `RSS, first ${w(windowLabel)}`, `RSS, last ${w(windowLabel)}`, 'change'],
      trend.map((t) => [
        t.name,
        mib(t.first),
        mib(t.last),
        `${t.growth >= 0 ? '+' : ''}${(t.growth * 100).toFixed(1)} %`,
      ]),
    ),
  ].join('\n');
  ctx.log(
    `  liveness: ${sent.length} posts, ${pairs} pairs, ${misses} missed, visible ${lat(visible)}, ${stuck} stuck, ${ended} ended early`,
  );
  const growth = (name: string) => trend.find((t) => t.name === name)?.growth ?? Number.NaN;
  return {
    id: 'liveness',
    title: '12. Liveness: open dashboards over a soak',
    headline: {
      posts: sent.length,
      pairs,
      misses,
      stuck,
      visibleP50Ms: percentile(visible, 50),
      visibleP99Ms: percentile(visible, 99),
      visibleMaxMs: maxOf(visible),
      overBound,
      gatewayRssGrowth: growth('gateway'),
      feedWorkerRssGrowth: growth('feed-worker'),
    },
    markdown,
    figures: { seconds, streams: streams.length, authors: authors.length, sent, late, minutes, trend, samples },
    failures,
    runs: 1,
  };
}

/** The minutes that had a pair over the bound, beside the machine's load then (all minutes are in the JSON). */
function lateMinutesText(
  minutes: ReadonlyArray<{
    minute: number;
    pairs: number;
    p99Ms: number;
    maxMs: number;
    overBound: number;
    loadMax: number;
  }>,
  samples: ReadonlyArray<{ load: number }>,
): string {
  const loads = samples.map((x) => x.load);
  const range = loads.length > 0 ? `${Math.min(...loads).toFixed(1)}–${maxOf(loads).toFixed(1)}` : 'n/a';
  const lateOnes = minutes.filter((m) => m.overBound > 0);
  const intro = `1-minute load average during the soak ${range} on ${cpus().length} CPUs; pairs over ${VISIBLE_WITHIN_MS / 1000} s in ${lateOnes.length} of ${minutes.length} minutes${lateOnes.length > 0 ? ':' : '.'}`;
  if (lateOnes.length === 0) return intro;
  return [
    intro,
    '',
    table(
      ['minute', 'pairs', 'p99', 'max', `over ${VISIBLE_WITHIN_MS / 1000} s`, 'highest load average'],
      lateOnes.map((m) => [
        String(m.minute + 1),
        num(m.pairs),
        `${num(m.p99Ms)} ms`,
        `${num(m.maxMs)} ms`,
        num(m.overBound),
        Number.isFinite(m.loadMax) ? m.loadMax.toFixed(1) : 'n/a',
      ]),
    ),
  ].join('\n');
}

async function write(
  system: BenchSystem,
  viewer: number,
  method: string,
  path: string,
  body: Record<string, unknown>,
): Promise<unknown> {
  const response = await fetch(`${system.gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${system.token(viewer)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200 && response.status !== 201) {
    throw new Error(`${method} ${path} as ${viewer}: ${response.status} ${text.slice(0, 200)}`);
  }
  return JSON.parse(text) as unknown;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(50);
  }
}
