import { availableParallelism } from 'node:os';
import type { BenchContext } from '../context';
import { cpuDelta, cpuMs, cpuSnapshot, machineBusyMs, type Pids } from '../cpu-time';
import { mapPool, openStream, runLoad, timeToReady } from '../load';
import { type PromSample, scrape, sumOf } from '../prometheus';
import { num, ratioText, type ScenarioResult, table } from '../report';
import { mean } from '../stats';
import { FRAGMENT_WORKERS } from '../stack';
import { type BenchSystem, DASHBOARD_NAMES } from '../system';

const PAGE_PATH = '/api/pages/dashboard';
/** Connections of the light warm run (unit costs): a few, so nothing queues and nothing batches. */
const LIGHT_CONNECTIONS = 2;
/** Cold dashboards at a time while unit costs are measured: the builders never saturate. */
const LIGHT_STREAMS = 2;

/**
 * The sizing inputs: not measurements but what a deployment chooses. Target utilisation leaves head
 * room for bursts and a lost pod; a pod is given one core; the load mixes below are examples.
 */
const TARGET_UTILISATION = 0.6;
const CORES_PER_POD = 1;
const LOADS = [1_000, 10_000, 100_000] as const;
/** Builds per page request: cold viewers and copies rebuilt after writes, per fragment of the page. */
const BUILDS_PER_PAGE = 0.05;

/** CPU µs each part of the system spends per unit of work, measured under light load. */
export interface UnitCosts {
  /** Per warm page: gateway, Redis, and the load generator (it shares this machine's cores). */
  readonly warm: { gateway: number; redis: number; client: number };
  /** Per build, by fragment: its worker; and averaged over all builds: Postgres, Redis, gateway (lease, events). */
  readonly build: {
    worker: Record<string, number>;
    postgres: number;
    redis: number;
    gateway: number;
    client: number;
    /** Mean builder time, by fragment (fragment_build_seconds), ms. */
    latencyMs: Record<string, number>;
  };
  /** Per open stream and second, idle (heartbeats only): gateway CPU µs. */
  readonly streamPerSecond: number;
}

/** What the model predicts this machine serves flat out, from the unit costs alone. */
export function predictOnThisMachine(costs: UnitCosts, cores: number): { warmPages: number; builds: number } {
  const warmPerPage = costs.warm.gateway + costs.warm.redis + costs.warm.client;
  const perBuild =
    mean(Object.values(costs.build.worker)) +
    costs.build.postgres +
    costs.build.redis +
    costs.build.gateway +
    costs.build.client;
  return { warmPages: (cores * 1e6) / warmPerPage, builds: (cores * 1e6) / perBuild };
}

export interface Sizing {
  readonly pages: number;
  readonly buildsPerSecond: number;
  readonly gatewayPods: number;
  readonly redisShards: number;
  readonly workerPods: Record<string, number>;
  readonly postgresCores: number;
}

/**
 * The capacity model (docs/capacity.md): pods of each kind for `pages` page requests a second, of
 * which `buildsPerPage` fragments a page need a build; CPU only (each Redis shard is one core).
 */
export function size(costs: UnitCosts, pages: number, buildsPerPage: number): Sizing {
  const fragments = Object.keys(costs.build.worker);
  const buildsPerSecond = pages * fragments.length * buildsPerPage;
  const perFragment = buildsPerSecond / fragments.length;
  const cores = (us: number) => us / 1e6 / TARGET_UTILISATION;
  const pods = (us: number) => Math.max(1, Math.ceil(cores(us) / CORES_PER_POD));
  return {
    pages,
    buildsPerSecond,
    gatewayPods: pods(pages * costs.warm.gateway + buildsPerSecond * costs.build.gateway),
    redisShards: pods(pages * costs.warm.redis + buildsPerSecond * costs.build.redis),
    workerPods: Object.fromEntries(fragments.map((f) => [f, pods(perFragment * costs.build.worker[f])])),
    postgresCores: cores(buildsPerSecond * costs.build.postgres),
  };
}

function builtBy(samples: Readonly<Record<string, PromSample[]>>, metric: string, fragment: string): number {
  return sumOf(samples[fragment] ?? [], metric, {
    fragment,
    ...(metric === 'fragment_builds_total' ? { outcome: 'built' } : {}),
  });
}

async function scrapeWorkers(system: BenchSystem): Promise<Record<string, PromSample[]>> {
  const out: Record<string, PromSample[]> = {};
  for (const [i, worker] of FRAGMENT_WORKERS.entries()) out[DASHBOARD_NAMES[i]] = await scrape(system.apps[worker].url);
  return out;
}

/** Cores in use while `work` ran: the whole machine's, and of them this run's processes'. */
async function busyDuring<T>(
  pids: () => Promise<Pids>,
  work: () => Promise<T>,
): Promise<{ result: T; machineCores: number; ourCores: number }> {
  const before = cpuSnapshot(await pids());
  const machineBefore = machineBusyMs();
  const t0 = performance.now();
  const result = await work();
  const ms = performance.now() - t0;
  const ours = Object.values(cpuDelta(before, cpuSnapshot(await pids()))).reduce((a, b) => a + b, 0);
  return { result, machineCores: (machineBusyMs() - machineBefore) / ms, ourCores: ours / ms };
}

/**
 * Scenario 14: the capacity model checked on this machine. Unit costs (CPU per warm page, per build,
 * per open stream) are measured under light load; from them alone the model predicts how many warm
 * pages and builds a second this machine serves flat out; then both are measured flat out. The same
 * unit costs size a deployment for 1,000–100,000 pages a second (docs/capacity.md has the formulas).
 */
export async function capacity(ctx: BenchContext): Promise<ScenarioResult> {
  const system = await ctx.system();
  const cores = availableParallelism();
  const pids = () => system.cpuPids();
  const warm = system.warmViewers();
  const tokens = system.tokensOf(warm);
  const seconds = ctx.sizes.loadSeconds;

  // 1. Warm pages, light load: unit costs.
  await system.rewarm(warm);
  await system.waitForIdleQueues();
  await runLoad({
    url: system.gateway.url,
    path: PAGE_PATH,
    connections: LIGHT_CONNECTIONS,
    duration: ctx.sizes.warmupSeconds,
    tokens,
  });
  let before = cpuSnapshot(await pids());
  const light = await runLoad({
    url: system.gateway.url,
    path: PAGE_PATH,
    connections: LIGHT_CONNECTIONS,
    duration: seconds,
    tokens,
  });
  let used = cpuDelta(before, cpuSnapshot(await pids()));
  if (light.non2xx + light.errors > 0)
    throw new Error(`light warm run: ${light.non2xx} non-2xx, ${light.errors} errors`);
  const perPage = (ms: number) => (ms * 1000) / light.requests;
  const warmCost = {
    gateway: perPage(used['gateway']),
    redis: perPage(used['redis']),
    client: perPage(used['client']),
  };
  ctx.log(
    `  light warm: ${num(light.rps)} pages/s; per page gateway ${warmCost.gateway.toFixed(0)} µs, Redis ${warmCost.redis.toFixed(0)} µs, client ${warmCost.client.toFixed(0)} µs`,
  );

  // 2. Cold dashboards a few at a time: unit costs per build (streams deliver the ready events).
  const streamUrl = `${system.gateway.url}${PAGE_PATH}/stream`;
  // Twice the time-to-fragment viewers: CPU time comes in 10 ms ticks, so enough builds per worker.
  const coldViewers = system.viewers.take(2 * ctx.sizes.ttfViewers);
  await system.waitForIdleQueues();
  const metricsBefore = await scrapeWorkers(system);
  before = cpuSnapshot(await pids());
  await mapPool(coldViewers, LIGHT_STREAMS, (v) => timeToReady(streamUrl, system.token(v), DASHBOARD_NAMES));
  await system.waitForIdleQueues();
  used = cpuDelta(before, cpuSnapshot(await pids()));
  const metricsAfter = await scrapeWorkers(system);
  const builds: Record<string, number> = {};
  const latencyMs: Record<string, number> = {};
  for (const f of DASHBOARD_NAMES) {
    const d = (metric: string) => builtBy(metricsAfter, metric, f) - builtBy(metricsBefore, metric, f);
    builds[f] = d('fragment_builds_total');
    latencyMs[f] = (d('fragment_build_seconds_sum') / Math.max(1, d('fragment_build_seconds_count'))) * 1000;
  }
  const allBuilds = Object.values(builds).reduce((a, b) => a + b, 0);
  if (allBuilds < coldViewers.length * DASHBOARD_NAMES.length)
    throw new Error(
      `cold dashboards: ${allBuilds} builds for ${coldViewers.length} dashboards of ${DASHBOARD_NAMES.length} fragments`,
    );
  const perBuild = (ms: number) => (ms * 1000) / allBuilds;
  const buildCost = {
    worker: Object.fromEntries(DASHBOARD_NAMES.map((f) => [f, (used[f] * 1000) / builds[f]])),
    postgres: perBuild(used['postgres']),
    redis: perBuild(used['redis']),
    gateway: perBuild(used['gateway']),
    client: perBuild(used['client']),
    latencyMs,
  };

  // 3. Open streams, idle: what holding one costs the gateway.
  const idleViewers = system.warmViewers().slice(0, Math.min(50, warm.length));
  const streams = idleViewers.map((v) => openStream(streamUrl, system.token(v), () => undefined));
  await Promise.all(streams.map((s) => s.status));
  const idleSeconds = Math.max(2, seconds);
  await new Promise((r) => setTimeout(r, 1000));
  const gwBefore = cpuMs(system.gateway.proc.pid ?? -1) ?? 0;
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const gwIdle = (cpuMs(system.gateway.proc.pid ?? -1) ?? 0) - gwBefore;
  for (const s of streams) s.close();
  const costs: UnitCosts = {
    warm: warmCost,
    build: buildCost,
    streamPerSecond: (gwIdle * 1000) / idleSeconds / streams.length,
  };

  // 4. Flat out: what the model predicts against what this machine serves.
  const predicted = predictOnThisMachine(costs, cores);
  await system.rewarm(warm);
  await system.waitForIdleQueues();
  const warmBusy = await busyDuring(pids, () =>
    runLoad({
      url: system.gateway.url,
      path: PAGE_PATH,
      connections: ctx.sizes.connections,
      duration: seconds,
      tokens,
    }),
  );
  const full = warmBusy.result;
  if (full.non2xx + full.errors > 0)
    throw new Error(`flat-out warm run: ${full.non2xx} non-2xx, ${full.errors} errors`);
  const burstViewers = system.viewers.take(ctx.sizes.coldGatewayViewers);
  const buildsBefore = await scrapeWorkers(system);
  const t0 = performance.now();
  const buildBusy = await busyDuring(pids, async () => {
    await mapPool(burstViewers, 50, async (v) => {
      const r = await fetch(`${system.gateway.url}${PAGE_PATH}`, {
        headers: { authorization: `Bearer ${system.token(v)}` },
      });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`cold dashboard of ${v}: ${r.status}`);
    });
    await system.waitForIdleQueues();
  });
  const drainSeconds = (performance.now() - t0) / 1000;
  const buildsAfter = await scrapeWorkers(system);
  const burstBuilds = DASHBOARD_NAMES.reduce(
    (t, f) => t + builtBy(buildsAfter, 'fragment_builds_total', f) - builtBy(buildsBefore, 'fragment_builds_total', f),
    0,
  );
  const measured = { warmPages: full.rps, builds: burstBuilds / drainSeconds };

  const sizing = LOADS.map((pages) => size(costs, pages, BUILDS_PER_PAGE));
  const us = (v: number) => `${num(v, v < 10 ? 1 : 0)} µs`;
  const markdown = [
    `Unit costs are CPU time (user + system, /proc) over light load divided by the work done: ${LIGHT_CONNECTIONS} connections of warm dashboards for ${seconds} s (${num(light.rps)} pages/s), then ${num(coldViewers.length)} cold dashboards ${LIGHT_STREAMS} page streams at a time (${num(allBuilds)} builds), then ${streams.length} idle streams for ${idleSeconds} s. Postgres is the backends of this run's database; Redis is the server (shared with anything else on the machine); "client" is the bench process (autocannon and the streams), which shares the ${cores} cores.`,
    '',
    table(
      ['unit', 'gateway', 'Redis', 'worker', 'Postgres', 'client'],
      [
        ['warm page', us(costs.warm.gateway), us(costs.warm.redis), '', '', us(costs.warm.client)],
        ...DASHBOARD_NAMES.map((f) => [
          `build: ${f} (builder ${num(latencyMs[f], 1)} ms)`,
          us(costs.build.gateway),
          us(costs.build.redis),
          us(costs.build.worker[f]),
          us(costs.build.postgres),
          us(costs.build.client),
        ]),
        ['open stream, per second idle', us(costs.streamPerSecond), '', '', '', ''],
      ],
    ),
    '',
    `**The model on this machine** (${cores} cores, every unit's CPU added up, nothing else running): predicted against measured flat out — warm pages at ${ctx.sizes.connections} connections for ${seconds} s; builds while ${num(burstViewers.length)} cold dashboards are asked for at once and drained.`,
    '',
    table(
      ['flat out', 'predicted', 'measured', 'measured / predicted', `cores busy of ${cores} (this run's processes)`],
      [
        [
          'warm pages/s',
          num(predicted.warmPages),
          num(measured.warmPages),
          ratioText(measured.warmPages / predicted.warmPages),
          `${num(warmBusy.machineCores, 2)} (${num(warmBusy.ourCores, 2)})`,
        ],
        [
          'builds/s',
          num(predicted.builds),
          num(measured.builds),
          ratioText(measured.builds / predicted.builds),
          `${num(buildBusy.machineCores, 2)} (${num(buildBusy.ourCores, 2)})`,
        ],
      ],
    ),
    '',
    `Cores busy: the whole machine's busy time (/proc/stat) over the run's wall time, and in brackets the share of this run's processes (the rest is other work on the machine, which the prediction does not subtract). Where measured falls short of predicted with cores to spare, something other than CPU limits it (builder concurrency against the pool, queue round trips, the load generator's own limit); where the cores are all busy, a saturated process spends more per unit than under light load, or other work took its share.`,
    '',
    `**Sizing from these unit costs** (docs/capacity.md): ${BUILDS_PER_PAGE} builds per fragment per page request, target utilisation ${TARGET_UTILISATION}, ${CORES_PER_POD} core per pod, one core per Redis shard. Worker pods by CPU only; each also needs concurrency for builds in flight (builds/s × builder time).`,
    '',
    table(
      [
        'pages/s',
        'builds/s',
        'gateway pods',
        'Redis shards',
        ...DASHBOARD_NAMES.map((f) => `${f} workers`),
        'Postgres cores (reads)',
        'builds in flight',
      ],
      sizing.map((s) => [
        num(s.pages),
        num(s.buildsPerSecond),
        num(s.gatewayPods),
        num(s.redisShards),
        ...DASHBOARD_NAMES.map((f) => num(s.workerPods[f])),
        num(s.postgresCores, 1),
        num(
          DASHBOARD_NAMES.reduce((t, f) => t + (s.buildsPerSecond / DASHBOARD_NAMES.length) * (latencyMs[f] / 1000), 0),
        ),
      ]),
    ),
  ].join('\n');
  return {
    id: 'capacity',
    title: '14. Capacity model: predicted against measured',
    headline: {
      warmPredicted: predicted.warmPages,
      warmMeasured: measured.warmPages,
      warmRatio: measured.warmPages / predicted.warmPages,
      buildsPredicted: predicted.builds,
      buildsMeasured: measured.builds,
      buildsRatio: measured.builds / predicted.builds,
      warmMachineCores: warmBusy.machineCores,
      buildMachineCores: buildBusy.machineCores,
      warmGatewayUs: costs.warm.gateway,
      warmRedisUs: costs.warm.redis,
    },
    markdown,
    figures: { costs, predicted, measured, sizing, lightWarmP50: light.p50, fullWarmP99: full.p99 },
  };
}
