import { rmSync } from 'node:fs';
import path from 'node:path';
import type { BenchContext } from '../context';
import { profileMarkdown, type ProfileSummary, summariseProfile } from '../cpu-profile';
import { type DrainKind, drainOnce } from '../drain';
import { fig, num, ratioText, type ScenarioResult, table } from '../report';
import { RunSeries } from '../stats';

interface Variant {
  readonly key: string;
  readonly kind: DrainKind;
  readonly label: string;
  /** A sleep per build instead of nothing (1 or 5 ms): how much the overhead weighs next to real work. */
  readonly sleepMs?: number;
}

const VARIANTS: readonly Variant[] = [
  { key: 'engine', kind: 'engine', label: 'engine (FragmentWorkerModule, no-op builder)' },
  { key: 'raw', kind: 'raw', label: 'raw Bull, default job options, no-op processor' },
  {
    key: 'rawOpts',
    kind: 'raw-engine-opts',
    label: 'raw Bull with the engine’s job options (priority lane, attempts, bounded history)',
  },
  { key: 'engine1', kind: 'engine', label: 'engine, builder sleeps 1 ms', sleepMs: 1 },
  { key: 'raw1', kind: 'raw', label: 'raw Bull, processor sleeps 1 ms', sleepMs: 1 },
  { key: 'engine5', kind: 'engine', label: 'engine, builder sleeps 5 ms', sleepMs: 5 },
  { key: 'raw5', kind: 'raw', label: 'raw Bull, processor sleeps 5 ms', sleepMs: 5 },
];

/** Frames of the engine's build path whose inclusive cost the report lists. */
const ENGINE_FRAMES = [
  'run (libs/fragment',
  'handle (libs/fragment',
  'claim (libs/fragment',
  'complete (libs/fragment',
  'validate (libs/fragment',
  'buildWithTimeout (libs/fragment',
  'safeParse (zod',
  'moveToFinished (bull',
  'moveToActive (bull',
  'createAbortSignal (',
  'promiseInitHook (',
];

/**
 * Scenario 3: builds per second through the engine (no-op builder) against raw Bull (no-op
 * processor): same Redis, one worker process each, same concurrency, same backlog, interleaved;
 * plus raw Bull with the engine's job options, and both with 1 ms and 5 ms builds for scale.
 */
export async function engineVsBull(ctx: BenchContext): Promise<ScenarioResult> {
  const { runs, engineJobs: jobs, engineConcurrency: concurrency } = ctx.sizes;
  const series = new RunSeries<`${string}:${'jps' | 'enqueue' | 'workerUs' | 'redisUs'}`>();
  for (let run = 1; run <= runs; run++) {
    for (const v of VARIANTS) {
      const result = await drainOnce(ctx, {
        kind: v.kind,
        processes: 1,
        concurrency,
        jobs,
        builder: v.sleepMs ? 'sleep' : 'noop',
        buildMs: v.sleepMs ?? 0,
      });
      ctx.log(
        `  run ${run} ${v.key}: ${num(result.jobsPerSecond)} jobs/s (drain ${result.seconds.toFixed(2)} s, enqueue ${result.enqueueSeconds.toFixed(2)} s)`,
      );
      series.addAll({
        [`${v.key}:jps`]: result.jobsPerSecond,
        [`${v.key}:enqueue`]: result.enqueueSeconds,
        [`${v.key}:workerUs`]: result.workerCpuPerJob * 1000,
        [`${v.key}:redisUs`]: result.redisCpuPerJob * 1000,
      });
    }
  }
  // One more run of each, profiled (node --cpu-prof on the worker): where the engine's time goes.
  const profileDir = ctx.profileDir;
  const profiles: Record<string, ProfileSummary> = {};
  for (const kind of ctx.sizes.profileEngine ? (['engine', 'raw'] as const) : []) {
    const name = `s3-${kind}-worker.cpuprofile`;
    rmSync(path.join(profileDir, name), { force: true });
    const { window } = await drainOnce(ctx, {
      kind,
      processes: 1,
      concurrency,
      jobs,
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}`],
    });
    profiles[kind] = summariseProfile(path.join(profileDir, name), window);
  }
  const f = series.figures();
  const vsRaw = (key: string, base = 'raw') => f[`${key}:jps`].median / f[`${base}:jps`].median;
  const engineRatio = vsRaw('engine');
  const rows = VARIANTS.map((v) => [
    v.label,
    fig(f[`${v.key}:jps`]),
    ratioText(vsRaw(v.key, v.sleepMs ? `raw${v.sleepMs}` : 'raw')),
    fig(f[`${v.key}:workerUs`], 0, 'µs'),
    fig(f[`${v.key}:redisUs`], 0, 'µs'),
    fig(f[`${v.key}:enqueue`], 2, 's'),
  ]);
  const markdown = [
    `${num(jobs)} jobs enqueued into a paused queue (engine: leased and enqueued exactly as the gateway does), then resumed and timed until the queue is empty; one worker process, concurrency ${concurrency}, same Redis and Bull settings; every variant once per repetition, in turn (${runs} repetition${runs === 1 ? '' : 's'}). The engine worker is bench/src/bench-worker (FragmentWorkerModule with a bench fragment, as WorkerHostModule builds a worker, minus Postgres); the raw one bench/src/raw-bull-worker.`,
    '',
    table(
      [
        'variant',
        'jobs/s',
        'vs raw Bull (same build)',
        'worker CPU per job',
        'Redis CPU per job*',
        `enqueue ${num(jobs)} (not in jobs/s)`,
      ],
      rows,
    ),
    '',
    '\\* Redis is shared with whatever else runs on the machine; its CPU time over the drain is divided by the jobs drained.',
    '',
    `**Engine / raw Bull: ${ratioText(engineRatio)}** (target ≥ 0.80×). Against raw Bull carrying the engine’s job options: ${ratioText(vsRaw('engine', 'rawOpts'))}. With a 1 ms build on both sides: ${ratioText(vsRaw('engine1', 'raw1'))}; with 5 ms: ${ratioText(vsRaw('engine5', 'raw5'))}.`,
    '',
    'What limits it, and the prototypes tried to close the gap: docs/performance.md.',
    ...(profiles['engine'] && profiles['raw']
      ? [
          '',
          `### Where the engine worker's time goes (node --cpu-prof, one more drain of ${num(jobs)} jobs)`,
          '',
          profileMarkdown(profiles['engine'], { inclusive: ENGINE_FRAMES, units: { count: jobs, name: 'job' } }),
          '',
          `The raw Bull worker, same drain:`,
          '',
          profileMarkdown(profiles['raw'], { self: 8, units: { count: jobs, name: 'job' } }),
        ]
      : []),
  ].join('\n');
  return {
    id: 'engine-vs-bull',
    title: '3. Engine vs raw Bull',
    headline: {
      engineJobsPerSecond: f['engine:jps'].median,
      rawJobsPerSecond: f['raw:jps'].median,
      ratio: engineRatio,
      ratioSameOptions: vsRaw('engine', 'rawOpts'),
      ratioWith1msBuild: vsRaw('engine1', 'raw1'),
      ratioWith5msBuild: vsRaw('engine5', 'raw5'),
    },
    markdown,
    figures: f,
  };
}
