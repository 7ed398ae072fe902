import type { BenchContext } from '../context';
import { openStream } from '../load';
import { scrape, sumOf } from '../prometheus';
import { mib, num, type ScenarioResult, table } from '../report';
import { mean } from '../stats';
import type { BenchSystem } from '../system';

interface SoakCounts {
  ok: number;
  non2xx: number;
  s5xx: number;
  errors: number;
}
const counts = (): SoakCounts => ({ ok: 0, non2xx: 0, s5xx: 0, errors: 0 });

interface Sample {
  readonly at: number;
  readonly rss: Record<string, number>;
  readonly listeners: number;
  readonly streams: number;
}

const PAGE_RATE = 150;
const WRITE_RATE = 5;
const STREAMS = 20;
const ITEMS = 200;

/**
 * The soak (scenario 7): steady load for `soakSeconds` — dashboard requests (a tenth with waitMs),
 * writes through the API (posts, follows, unfollows, likes, unlikes) and page streams opened and
 * closed — sampling every process's RSS and the gateway's listener and stream gauges. Then the
 * peak RSS of every process during each earlier scenario.
 */
export async function memorySoak(ctx: BenchContext): Promise<ScenarioResult> {
  const system = await ctx.system();
  const seconds = ctx.sizes.soakSeconds;
  ctx.memory.setPhase('soak');
  const soak = await runSoak(ctx, system, seconds);
  ctx.memory.setPhase('after');

  // RSS trend: the first and the last minute (a quarter of the soak when it is shorter).
  const window = Math.min(60, seconds / 4) * 1000;
  const end = soak.samples.at(-1)?.at ?? 0;
  const processes = Object.keys(soak.samples[0]?.rss ?? {});
  const trend = processes.map((name) => {
    const first = mean(soak.samples.filter((s) => s.at <= window).map((s) => s.rss[name]));
    const last = mean(soak.samples.filter((s) => s.at >= end - window).map((s) => s.rss[name]));
    return { name, first, last, growth: last / first - 1 };
  });
  const errors =
    soak.pages.non2xx +
    soak.pages.errors +
    soak.writes.non2xx +
    soak.writes.errors +
    soak.streams.non2xx +
    soak.streams.errors;
  const s5xx = soak.pages.s5xx + soak.writes.s5xx + soak.streams.s5xx;
  const w = (s: string) => (seconds >= 120 ? 'minute' : s);
  const soakMd = [
    `${(seconds / 60).toFixed(seconds < 60 ? 2 : 0)} min of steady load on the system: ${PAGE_RATE} dashboard requests/s over ${num(soak.viewers)} viewers (a tenth with \`waitMs=500\`; copies go stale and are rebuilt as their ttl runs out), ${WRITE_RATE} writes/s through the API (posts, follows, unfollows, likes, unlikes of random users and items), and ${STREAMS} page streams kept open, each closed after 1–5 s and replaced. Every ${soak.sampleEvery} s: RSS of every process, \`fragment_event_listeners\` and \`fragment_streams_open\` of the gateway.`,
    '',
    table(
      ['traffic', 'requests', 'non-2xx', '5xx', 'network errors'],
      [
        [
          'dashboard',
          num(soak.pages.ok + soak.pages.non2xx),
          num(soak.pages.non2xx),
          num(soak.pages.s5xx),
          num(soak.pages.errors),
        ],
        [
          'writes',
          num(soak.writes.ok + soak.writes.non2xx),
          num(soak.writes.non2xx),
          num(soak.writes.s5xx),
          num(soak.writes.errors),
        ],
        [
          'page streams',
          num(soak.streams.ok + soak.streams.non2xx),
          num(soak.streams.non2xx),
          num(soak.streams.s5xx),
          num(soak.streams.errors),
        ],
      ],
    ),
    '',
    `**${errors === 0 ? 'No errors' : `${num(errors)} errors (${num(s5xx)} of them 5xx)`}.** ${num(soak.builds)} fragment builds and ${num(soak.invalidations)} invalidated copies during the soak; ${num(soak.streamEvents)} stream events received.`,
    '',
    table(
      [
        'process',
        `RSS, first ${w(`${(window / 1000).toFixed(0)} s`)}`,
        `RSS, last ${w(`${(window / 1000).toFixed(0)} s`)}`,
        'change',
      ],
      trend.map((t) => [
        t.name,
        mib(t.first),
        mib(t.last),
        `${t.growth >= 0 ? '+' : ''}${(t.growth * 100).toFixed(1)} %`,
      ]),
    ),
    '',
    `Listeners (\`fragment_event_listeners\`): ${soak.listenersBefore} before, up to ${Math.max(...soak.samples.map((s) => s.listeners))} during, **${soak.listenersAfter} after** the load stopped and the streams closed (${soak.listenersAfter === soak.listenersBefore ? 'back at baseline' : 'NOT back at baseline'}); open streams ${soak.streamsAfter} after. Connections: Redis ${soak.connectionsBefore.redis} before, ${soak.connectionsAfter.redis} after (every client of the server); Postgres ${soak.connectionsBefore.postgres} before, ${soak.connectionsAfter.postgres} after (this run's database; each process's pool opens connections as it needs them, up to DATABASE_POOL_SIZE).`,
  ].join('\n');

  const phases = ctx.memory.phases().filter((p) => !['start', 'after', 'memory'].includes(p));
  const names = [...new Set(phases.flatMap((p) => Object.keys(ctx.memory.peaksOf(p))))];
  const interesting = names.filter((n) => !n.includes('#') || n.endsWith('#1'));
  const peakRows = interesting.map((name) => [
    name,
    ...phases.map((p) => (ctx.memory.peaksOf(p)[name] ? mib(ctx.memory.peaksOf(p)[name]) : '')),
  ]);
  const peakMd = [
    `Peak RSS (VmRSS sampled every 250 ms) of each process during each scenario; \`#1\` is the first of several identical workers.`,
    '',
    table(['process', ...phases], peakRows),
  ].join('\n');

  const gatewayGrowth = trend.find((t) => t.name === 'gateway')?.growth ?? Number.NaN;
  return {
    id: 'memory',
    title: '7. Memory and the soak',
    headline: {
      soakErrors: errors,
      soak5xx: s5xx,
      gatewayRssGrowth: gatewayGrowth,
      listenersBefore: soak.listenersBefore,
      listenersAfter: soak.listenersAfter,
      redisConnectionsGrowth: soak.connectionsAfter.redis - soak.connectionsBefore.redis,
      gatewayPeakRss: Math.max(...phases.map((p) => ctx.memory.peaksOf(p)['gateway'] ?? 0)),
      workerPeakRss: Math.max(...phases.map((p) => ctx.memory.peaksOf(p)['feed-worker'] ?? 0)),
    },
    markdown: [peakMd, '', '### The soak', '', soakMd].join('\n'),
    figures: { soak, trend },
    runs: 1,
  };
}

interface SoakResult {
  readonly viewers: number;
  readonly sampleEvery: number;
  readonly pages: SoakCounts;
  readonly writes: SoakCounts;
  readonly streams: SoakCounts;
  readonly streamEvents: number;
  readonly samples: Sample[];
  readonly listenersBefore: number;
  readonly listenersAfter: number;
  readonly streamsAfter: number;
  readonly connectionsBefore: { redis: number; postgres: number };
  readonly connectionsAfter: { redis: number; postgres: number };
  readonly builds: number;
  readonly invalidations: number;
}

async function runSoak(ctx: BenchContext, system: BenchSystem, seconds: number): Promise<SoakResult> {
  const gateway = system.gateway.url;
  const viewers = system.viewers.take(ctx.sizes.quick ? 40 : 400);
  const random = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)];
  const gauges = async () => {
    const samples = await scrape(gateway);
    return { listeners: sumOf(samples, 'fragment_event_listeners'), streams: sumOf(samples, 'fragment_streams_open') };
  };
  const totals = async () => {
    let builds = 0;
    for (const w of ['profile-worker', 'feed-worker', 'recommendations-worker'] as const)
      builds += sumOf(await scrape(system.apps[w].url), 'fragment_builds_total', { outcome: 'built' });
    const invalidations = sumOf(await scrape(system.apps['invalidation-worker'].url), 'fragment_invalidations_total');
    return { builds, invalidations };
  };
  await system.waitForIdleQueues();
  const before = await gauges();
  const totalsBefore = await totals();
  const connectionsBefore = await ctx.stack.connections();
  const pages = counts();
  const writes = counts();
  const streams = counts();
  let streamEvents = 0;
  const samples: Sample[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const running = () => performance.now() < deadline;
  const record = (c: SoakCounts, status: number) => {
    if (status >= 200 && status < 300) c.ok++;
    else c.non2xx++;
    if (status >= 500) c.s5xx++;
  };
  const inFlight = new Set<Promise<void>>();
  const fire = (work: () => Promise<void>) => {
    const p = work().finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  // Open-loop ticks: the rates hold whatever the latency, up to a bound on requests in flight.
  const tick = 20;
  let pageCredit = 0;
  let writeCredit = 0;
  let n = 0;
  const ticker = setInterval(() => {
    if (!running()) return;
    pageCredit += (PAGE_RATE * tick) / 1000;
    writeCredit += (WRITE_RATE * tick) / 1000;
    for (; pageCredit >= 1; pageCredit--) {
      if (inFlight.size > 200) continue;
      const viewer = random(viewers);
      fire(async () => {
        try {
          const response = await fetch(`${gateway}/api/pages/dashboard${Math.random() < 0.1 ? '?waitMs=500' : ''}`, {
            headers: { authorization: `Bearer ${system.token(viewer)}` },
          });
          await response.arrayBuffer();
          record(pages, response.status);
        } catch {
          pages.errors++;
        }
      });
    }
    for (; writeCredit >= 1; writeCredit--) {
      const viewer = random(viewers);
      const other = 1 + ((viewer + 1 + Math.floor(Math.random() * 500)) % ctx.sizes.users);
      const item = 1 + Math.floor(Math.random() * ITEMS);
      const r = Math.random();
      const [method, path, body] =
        r < 0.4
          ? ['POST', '/api/posts', { body: `soak post ${++n} by ${viewer}` }]
          : r < 0.6
            ? ['POST', '/api/follows', { userId: other }]
            : r < 0.7
              ? ['DELETE', `/api/follows/${other}`, undefined]
              : r < 0.9
                ? ['POST', `/api/items/${item}/likes`, undefined]
                : ['DELETE', `/api/items/${item}/likes`, undefined];
      fire(async () => {
        try {
          const response = await fetch(`${gateway}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${system.token(viewer)}`,
              ...(body ? { 'content-type': 'application/json' } : {}),
            },
            body: body ? JSON.stringify(body) : undefined,
          });
          await response.arrayBuffer();
          record(writes, response.status);
        } catch {
          writes.errors++;
        }
      });
    }
  }, tick);

  const streamLoops = Array.from({ length: STREAMS }, async () => {
    while (running()) {
      const stream = openStream(
        `${gateway}/api/pages/dashboard/stream`,
        system.token(random(viewers)),
        () => streamEvents++,
      );
      try {
        record(streams, await stream.status);
      } catch {
        streams.errors++;
      }
      await Promise.race([stream.ended, new Promise((r) => setTimeout(r, 1000 + Math.random() * 4000))]);
      stream.close();
      await stream.ended;
    }
  });

  const sampleEvery = seconds >= 120 ? 5 : 1;
  const sampler = (async () => {
    while (running()) {
      const g = await gauges();
      const rss: Record<string, number> = {};
      for (const app of Object.values(system.apps)) rss[app.name] = app.proc.rss() ?? Number.NaN;
      samples.push({ at: performance.now() - started, rss, listeners: g.listeners, streams: g.streams });
      await new Promise((r) => setTimeout(r, sampleEvery * 1000));
    }
  })();

  await Promise.all([...streamLoops, sampler]);
  clearInterval(ticker);
  await Promise.all([...inFlight]);
  // Let closed streams and finished waits be noticed, then read the gauges once more.
  await new Promise((r) => setTimeout(r, 2000));
  const after = await gauges();
  await system.waitForIdleQueues();
  const totalsAfter = await totals();
  const connectionsAfter = await ctx.stack.connections();
  ctx.log(
    `  soak: ${pages.ok + pages.non2xx} pages, ${writes.ok + writes.non2xx} writes, ${streams.ok + streams.non2xx} streams; listeners ${before.listeners} → ${after.listeners}`,
  );
  return {
    viewers: viewers.length,
    sampleEvery,
    pages,
    writes,
    streams,
    streamEvents,
    samples,
    listenersBefore: before.listeners,
    listenersAfter: after.listeners,
    streamsAfter: after.streams,
    connectionsBefore,
    connectionsAfter,
    builds: totalsAfter.builds - totalsBefore.builds,
    invalidations: totalsAfter.invalidations - totalsBefore.invalidations,
  };
}
