import { rmSync } from 'node:fs';
import path from 'node:path';
import type { BenchContext } from '../context';
import { monotonicMicros, profileMarkdown, type ProfileSummary, summariseProfile } from '../cpu-profile';
import { measureCpu } from '../cpu-time';
import { runLoad } from '../load';
import { scrape, sumOf } from '../prometheus';
import { fig, num, ratioText, type ScenarioResult, table } from '../report';
import { RunSeries } from '../stats';
import { type RunningApp } from '../stack';
import { type BenchSystem, DASHBOARD_NAMES } from '../system';

const PATH = '/api/pages/dashboard';

/** Frames whose inclusive cost the gateway's profile lists: one per layer a warm request crosses. */
const GATEWAY_FRAMES = [
  'runMiddie (',
  'canActivate (@nestjs/throttler',
  'handleRequest (libs/auth',
  'increment (libs/auth',
  'canActivate (libs/auth',
  'page (libs/pages',
  'resolve (libs/fragment',
  'resolveCounted (libs/fragment',
  'read (libs/fragment',
  'readCounted (libs/fragment',
  'sendJson (',
  'promiseInitHook (',
  'inc (prom-client',
];

/** Copies each viewer's three `F` objects, as the gateway serves them now, into the floor's plain keys. */
async function snapshotFloor(
  ctx: BenchContext,
  system: BenchSystem,
  viewers: readonly number[],
  prefix: string,
): Promise<void> {
  const pipeline = ctx.stack.redis.pipeline();
  for (const viewer of viewers) {
    const { status, body } = await system.page(system.gateway.url, viewer);
    if (status !== 200) throw new Error(`dashboard of ${viewer}: ${status}`);
    const page = JSON.parse(body) as { fragments: Record<string, unknown> };
    for (const name of DASHBOARD_NAMES)
      pipeline.set(`${prefix}${viewer}:${name}`, JSON.stringify(page.fragments[name]));
  }
  await pipeline.exec();
}

/** The same page from every server must be byte for byte the same, or the comparison means nothing. */
async function assertSameBytes(system: BenchSystem, other: RunningApp, viewer: number): Promise<number> {
  const a = await system.page(system.gateway.url, viewer);
  const b = await system.page(other.url, viewer);
  if (a.body !== b.body)
    throw new Error(
      `${other.name}'s page differs from the gateway's:\n${a.body.slice(0, 300)}\n${b.body.slice(0, 300)}`,
    );
  return Buffer.byteLength(a.body);
}

async function headerBytes(url: string, token: string): Promise<{ count: number; bytes: number }> {
  const response = await fetch(`${url}${PATH}`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  let count = 0;
  let bytes = 0;
  response.headers.forEach((value, name) => {
    count++;
    bytes += name.length + value.length + 4;
  });
  return { count, bytes };
}

/** The gateway's near-cache reads so far, and how their rate-limit counts were made (its /metrics). */
async function nearCacheReads(url: string): Promise<{ hit: number; miss: number; countedInMemory: number }> {
  const samples = await scrape(url);
  return {
    hit: sumOf(samples, 'fragment_near_cache_reads_total', { outcome: 'hit' }),
    miss: sumOf(samples, 'fragment_near_cache_reads_total', { outcome: 'miss' }),
    countedInMemory: sumOf(samples, 'fragment_near_cache_counts_total', { where: 'memory' }),
  };
}

interface Server {
  readonly key: string;
  readonly label: string;
  readonly app: RunningApp;
}

/**
 * Scenario 2: the gateway's warm dashboard against the floor (bare Fastify + ioredis, one MGET, the
 * same bytes), interleaved. Then one profiled run (node --cpu-prof) of the gateway and of the floor.
 */
export async function warmFloor(ctx: BenchContext): Promise<ScenarioResult> {
  const { runs, connections, loadSeconds, profileSeconds } = ctx.sizes;
  /** Each gateway's connections when two are loaded side by side. */
  const half = Math.max(1, Math.round(connections / 2));
  const system = await ctx.system();
  const warm = system.warmViewers();
  const tokens = system.tokensOf(warm);
  const floorPrefix = `${ctx.stack.keyPrefix}floor:`;
  const redisPid = await ctx.stack.redisPid();
  const started: RunningApp[] = [];
  const servers: Server[] = [{ key: 'gw', label: 'gateway', app: system.gateway }];
  type Key = `${string}:${'rps' | 'p50' | 'p99' | 'appUs' | 'redisUs' | 'nearHitShare' | 'memoryCountShare' | 'ratio'}`;
  const series = new RunSeries<Key>();
  let pageBytes = 0;
  const profiles: Record<string, ProfileSummary> = {};
  const profiledRequests: Record<string, number> = {};
  let headers: Record<string, { count: number; bytes: number }> = {};
  try {
    // Every server at once (the profiled ones too: they idle until their turn, and only samples
    // taken during their own load are counted).
    const dir = ctx.profileDir;
    const profiledName = (kind: string) => `s2-${kind}.cpuprofile`;
    const profileArgs = (kind: string) => {
      rmSync(path.join(dir, profiledName(kind)), { force: true });
      return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${profiledName(kind)}`];
    };
    // --quick: one profile.
    const kinds = ctx.sizes.quick ? (['gateway'] as const) : (['gateway', 'floor'] as const);
    const [floor, profiled] = await Promise.all([
      ctx.stack.startBenchApp('floor', { env: { FLOOR_PREFIX: floorPrefix } }),
      Promise.all(
        kinds.map((kind) =>
          kind === 'gateway'
            ? ctx.stack.startApp('gateway', { label: 'gateway (profiled)', nodeArgs: profileArgs('gateway') })
            : ctx.stack.startBenchApp('floor', {
                label: 'floor (profiled)',
                nodeArgs: profileArgs('floor'),
                env: { FLOOR_PREFIX: floorPrefix },
              }),
        ),
      ),
    ]);
    started.push(floor, ...profiled);
    servers.push({ key: 'floor', label: 'floor', app: floor });
    // The same gateway with every page read through the resolve script: what the near cache buys.
    const noNear = await ctx.stack.startApp('gateway', {
      label: 'gateway (near cache off)',
      env: { NEAR_CACHE_MAX_MB: '0' },
    });
    started.push(noNear);
    servers.push({ key: 'nonear', label: 'gateway, near cache off', app: noNear });
    if (ctx.baselineGateway) {
      const baseline = await ctx.stack.startApp('gateway', {
        label: 'gateway (baseline)',
        script: ctx.baselineGateway,
      });
      started.push(baseline);
      servers.push({
        key: 'base',
        label: `gateway (baseline: ${path.basename(path.dirname(ctx.baselineGateway))})`,
        app: baseline,
      });
    }

    // Every gateway serves rewarms (pending pages, waits, readiness events) in turn, not the system's
    // alone: one that had only ever served warm pages would run code V8 specialised for them alone,
    // faster than a gateway that has seen production's mix (an identical build measured side by
    // side: 0.90–0.95× of itself when it alone served them).
    const gateways = [
      ...servers.filter((server) => server.key !== 'floor').map((server) => server.app),
      ...profiled.filter((_, i) => kinds[i] === 'gateway'),
    ];
    let turn = 0;
    const nextGateway = () => gateways[turn++ % gateways.length];
    // Copies must stay fresh through every run (the feed's ttl is 30 s): rebuilt whenever the next
    // run could outlast them, through the gateway measured next (or the next in turn).
    let freshSince = -Infinity;
    const rewarmVia = async (via: RunningApp) => {
      await system.rewarm(warm, { gatewayUrl: via.url, redis: ctx.stack.redis });
      await system.waitForIdleQueues();
      await snapshotFloor(ctx, system, warm, floorPrefix);
      freshSince = performance.now();
    };
    const keepFresh = async (via?: RunningApp) => {
      if (performance.now() - freshSince + ctx.sizes.loadSeconds * 1000 >= 20_000)
        await rewarmVia(via ?? nextGateway());
    };

    // Untimed warm-up of every server (JIT, token caches, connections), after a rewarm through each gateway.
    for (const app of gateways) await rewarmVia(app);
    for (const server of [...servers, ...profiled.map((app) => ({ key: app.name, label: app.name, app }))]) {
      await runLoad({ url: server.app.url, path: PATH, connections, duration: ctx.sizes.warmupSeconds, tokens });
    }

    for (let run = 1; run <= runs; run++) {
      for (const server of servers) {
        await keepFresh(server.key === 'floor' ? undefined : server.app);
        if (server.key !== 'gw') pageBytes = await assertSameBytes(system, server.app, warm[0]);
        const hitsBefore = server.key === 'gw' ? await nearCacheReads(server.app.url) : undefined;
        const { result: r, cpu } = await measureCpu({ app: server.app.proc.pid, redis: redisPid ?? -1 }, () =>
          runLoad({ url: server.app.url, path: PATH, connections, duration: loadSeconds, tokens }),
        );
        if (hitsBefore) {
          const after = await nearCacheReads(server.app.url);
          const hits = after.hit - hitsBefore.hit;
          series.add('gw:nearHitShare', (100 * hits) / Math.max(1, hits + after.miss - hitsBefore.miss));
          series.add(
            'gw:memoryCountShare',
            (100 * (after.countedInMemory - hitsBefore.countedInMemory)) / Math.max(1, hits),
          );
        }
        if (r.non2xx > 0 || r.errors > 0)
          throw new Error(`${server.label}: ${r.non2xx} non-2xx, ${r.errors} errors (${JSON.stringify(r.statuses)})`);
        const appUs = (cpu['app'] * 1000) / r.requests;
        const redisUs = (cpu['redis'] * 1000) / r.requests;
        series.addAll({
          [`${server.key}:rps`]: r.rps,
          [`${server.key}:p50`]: r.p50,
          [`${server.key}:p99`]: r.p99,
          [`${server.key}:appUs`]: appUs,
          [`${server.key}:redisUs`]: redisUs,
        });
        ctx.log(
          `  run ${run} ${server.label}: ${num(r.rps)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms; CPU per request ${appUs.toFixed(0)} µs (+ Redis ${redisUs.toFixed(0)} µs)`,
        );
      }
    }
    // With a baseline: both gateways loaded at once, half the connections each, so a slow spell of
    // the machine hits both alike; the ratio of each pair is the steadier comparison.
    const baseline = servers.find((s) => s.key === 'base');
    for (let run = 1; baseline && run <= runs; run++) {
      await keepFresh(run % 2 === 1 ? system.gateway : baseline.app);
      const { result, cpu } = await measureCpu({ gw: system.gateway.proc.pid, base: baseline.app.proc.pid }, () =>
        Promise.all(
          [system.gateway, baseline.app].map((app) =>
            runLoad({ url: app.url, path: PATH, connections: half, duration: loadSeconds, tokens }),
          ),
        ),
      );
      const [gw, base] = result;
      if (gw.non2xx + gw.errors + base.non2xx + base.errors > 0) throw new Error('side by side: non-2xx or errors');
      const [gwUs, baseUs] = [(cpu['gw'] * 1000) / gw.requests, (cpu['base'] * 1000) / base.requests];
      series.addAll({
        'sbs-gw:rps': gw.rps,
        'sbs-base:rps': base.rps,
        'sbs:ratio': gw.rps / base.rps,
        'sbs-gw:appUs': gwUs,
        'sbs-base:appUs': baseUs,
      });
      ctx.log(
        `  side by side ${run}: gateway ${num(gw.rps)} req/s, baseline ${num(base.rps)} req/s (${ratioText(gw.rps / base.rps)}); CPU per request ${gwUs.toFixed(0)} vs ${baseUs.toFixed(0)} µs`,
      );
    }
    headers = {
      gateway: await headerBytes(system.gateway.url, tokens[0]),
      floor: await headerBytes(floor.url, tokens[0]),
    };

    // Profiles: the same load for profileSeconds on each profiled process, then stop it (which
    // writes the profile); only the samples taken during the load count.
    for (const [i, kind] of kinds.entries()) {
      const app = profiled[i];
      await keepFresh(kind === 'gateway' ? app : undefined);
      const fromUs = monotonicMicros();
      const load = await runLoad({ url: app.url, path: PATH, connections, duration: profileSeconds, tokens });
      const toUs = monotonicMicros();
      await ctx.stack.stop(app);
      profiles[kind] = summariseProfile(path.join(dir, profiledName(kind)), { fromUs, toUs });
      profiledRequests[kind] = load.requests;
    }
  } finally {
    for (const app of started) await ctx.stack.stop(app);
  }
  const f = series.figures();
  const vsFloor = (key: string) => f[`${key}:rps`].median / f['floor:rps'].median;
  const throughputRatio = vsFloor('gw');
  const rows = servers.map((s) => [
    s.label,
    fig(f[`${s.key}:rps`]),
    ratioText(vsFloor(s.key)),
    fig(f[`${s.key}:p50`], 2, 'ms'),
    fig(f[`${s.key}:p99`], 2, 'ms'),
    fig(f[`${s.key}:appUs`], 0, 'µs'),
    fig(f[`${s.key}:redisUs`], 0, 'µs'),
  ]);
  const markdown = [
    `The gateway's warm dashboard against the floor (bench/src/floor: bare Fastify + ioredis, one MGET of the three fragments' \`F\` JSON stored as plain keys, concatenated into the same page). Both answer the same ${num(warm.length)} viewers; the floor's body is checked byte for byte against the gateway's (${num(pageBytes)} bytes). ${connections} connections, ${loadSeconds} s per run, gateway and floor in turn, once per repetition, every copy rebuilt fresh before each run.`,
    '',
    table(['server', 'req/s', 'vs floor', 'p50', 'p99', 'server CPU per request*', 'Redis CPU per request*'], rows),
    '',
    "\\* CPU time (user + system, /proc/<pid>/stat) over the run divided by the requests served; Redis is shared with anything else on the machine, and the load generator (autocannon, in the bench process) shares the two cores with the server and Redis, so the floor's throughput is partly the load generator's limit.",
    '',
    `**Gateway / floor throughput: ${ratioText(throughputRatio)}** (target ≥ 0.80×); p99 ${fig(f['gw:p99'], 2, 'ms')} against ${fig(f['floor:p99'], 2, 'ms')}. Response headers: gateway ${headers['gateway']?.count} (${headers['gateway']?.bytes} bytes), floor ${headers['floor']?.count} (${headers['floor']?.bytes} bytes).`,
    '',
    `Near cache (docs/architecture.md): the gateway served ${fig(f['gw:nearHitShare'], 1, '%')} of its pages from memory, and counted ${fig(f['gw:memoryCountShare'], 1, '%')} of those against its viewer's rate limit from hits it had taken from Redis ahead (the rest by a count script call); against the same gateway with it off (\`NEAR_CACHE_MAX_MB=0\`, every page through the resolve script): **${ratioText(f['gw:rps'].median / f['nonear:rps'].median)} the throughput**, ${ratioText(f['gw:appUs'].median / f['nonear:appUs'].median)} the gateway CPU and ${ratioText(f['gw:redisUs'].median / f['nonear:redisUs'].median)} the Redis CPU per request.`,
    ...(f['base:rps']
      ? [
          '',
          `Gateway / baseline gateway: ${ratioText(f['gw:rps'].median / f['base:rps'].median)} the throughput, ${ratioText(f['gw:appUs'].median / f['base:appUs'].median)} the gateway CPU and ${ratioText(f['gw:redisUs'].median / f['base:redisUs'].median)} the Redis CPU per request (\`--baseline-gateway\`, in turn).`,
          '',
          `Side by side (both loaded at once, ${half} connections each, ${loadSeconds} s, ${f['sbs:ratio'].runs.length} times): **gateway / baseline ${ratioText(f['sbs:ratio'].median)} the throughput** (each time: ${f['sbs:ratio'].runs.map((ratio) => ratioText(ratio)).join(', ')}), ${fig(f['sbs-gw:rps'])} against ${fig(f['sbs-base:rps'])} req/s; gateway CPU per request ${fig(f['sbs-gw:appUs'], 0, 'µs')} against ${fig(f['sbs-base:appUs'], 0, 'µs')}.`,
        ]
      : []),
    '',
    `### Profile of the gateway under the warm load (node --cpu-prof, ${profileSeconds} s)`,
    '',
    profileMarkdown(profiles['gateway'], {
      owners: 16,
      self: 15,
      inclusive: GATEWAY_FRAMES,
      units: { count: profiledRequests['gateway'], name: 'request' },
    }),
    '',
    'How the gap was narrowed so far, from prototypes measured one change at a time: docs/performance.md.',
    '',
    ...(profiles['floor']
      ? [
          `### Profile of the floor, same load`,
          '',
          profileMarkdown(profiles['floor'], {
            owners: 8,
            self: 8,
            units: { count: profiledRequests['floor'], name: 'request' },
          }),
        ]
      : []),
  ].join('\n');
  return {
    id: 'warm-floor',
    title: '2. Warm page vs the floor',
    headline: {
      throughputRatio,
      gatewayRps: f['gw:rps'].median,
      floorRps: f['floor:rps'].median,
      gatewayP99: f['gw:p99'].median,
      floorP99: f['floor:p99'].median,
      gatewayCpuUs: f['gw:appUs'].median,
      floorCpuUs: f['floor:appUs'].median,
      nearCacheOffRps: f['nonear:rps'].median,
      nearCacheThroughputRatio: f['gw:rps'].median / f['nonear:rps'].median,
      nearCacheRedisCpuRatio: f['gw:redisUs'].median / f['nonear:redisUs'].median,
      nearCacheHitPercent: f['gw:nearHitShare'].median,
      countedInMemoryPercent: f['gw:memoryCountShare'].median,
    },
    markdown,
    figures: { ...f, profiles },
  };
}
