import type { BenchContext } from '../context';
import { drainOnce } from '../drain';
import { fig, num, ratioText, type ScenarioResult, table } from '../report';
import { RunSeries } from '../stats';

type Load = 'io' | 'cpu';

/**
 * Scenario 5: the same backlog drained by 1, 2 and 4 worker processes, for an I/O-bound builder
 * (a sleep: the worker waits, like on Postgres) and a CPU-bound one (a busy loop). Process counts
 * are interleaved within each repetition.
 */
export async function scale(ctx: BenchContext): Promise<ScenarioResult> {
  const { runs, scaleJobs: jobs, scaleConcurrency: concurrency, scaleProcesses, sleepMs, spinMs } = ctx.sizes;
  const series = new RunSeries<`${Load}:${number}:${'jps' | 'seconds'}`>();
  const loads: ReadonlyArray<{ load: Load; builder: 'sleep' | 'spin'; ms: number }> = [
    { load: 'io', builder: 'sleep', ms: sleepMs },
    { load: 'cpu', builder: 'spin', ms: spinMs },
  ];
  for (let run = 1; run <= runs; run++) {
    for (const { load, builder, ms } of loads) {
      for (const processes of scaleProcesses) {
        const result = await drainOnce(ctx, { kind: 'engine', processes, concurrency, jobs, builder, buildMs: ms });
        ctx.log(
          `  run ${run} ${load} × ${processes}: ${num(result.jobsPerSecond)} jobs/s, drained in ${result.seconds.toFixed(1)} s`,
        );
        series.addAll({
          [`${load}:${processes}:jps`]: result.jobsPerSecond,
          [`${load}:${processes}:seconds`]: result.seconds,
        });
      }
    }
  }
  const f = series.figures();
  const headline: Record<string, number> = {};
  const rows: string[][] = [];
  for (const { load, ms } of loads) {
    const one = f[`${load}:1:jps`];
    for (const processes of scaleProcesses) {
      const jps = f[`${load}:${processes}:jps`];
      const ideal = (processes * concurrency * 1000) / ms;
      rows.push([
        load === 'io' ? `I/O-bound (${ms} ms sleep)` : `CPU-bound (${ms} ms of CPU in a busy loop)`,
        String(processes),
        fig(jps),
        fig(f[`${load}:${processes}:seconds`], 1, 's'),
        ratioText(jps.median / one.median),
        load === 'io' ? num(ideal) : num(Math.min(processes, 2) * (1000 / ms)),
      ]);
      headline[`${load}${processes}JobsPerSecond`] = jps.median;
      headline[`${load}${processes}Speedup`] = jps.median / one.median;
    }
  }
  const maxProcesses = Math.max(...scaleProcesses);
  const markdown = [
    `A backlog of ${num(jobs)} distinct fragment copies, leased and enqueued as the gateway does, drained by N engine worker processes (bench-worker: FragmentWorkerModule with a bench builder), concurrency ${concurrency} each; ${runs} repetition${runs === 1 ? '' : 's'}, process counts interleaved.`,
    '',
    table(['builder', 'processes', 'jobs/s', `time to drain ${num(jobs)}`, 'speed-up vs 1', 'ceiling*'], rows),
    '',
    `\\* I/O-bound: processes × concurrency / build time, if the engine cost nothing. CPU-bound: min(processes, 2 cores) / build time, if Redis, the engine and everything else on the machine cost nothing.`,
    '',
    `What the machine limits: an I/O-bound builder waits rather than computes, so processes add capacity almost linearly until Redis or the cores saturate (${maxProcesses} processes: ${ratioText(headline[`io${maxProcesses}Speedup`])} of one). A CPU-bound builder cannot go past the 2 cores, which it shares with Redis, the load generator and the engine's own work (${maxProcesses} processes: ${ratioText(headline[`cpu${maxProcesses}Speedup`])} of one). On a cluster each worker pod brings its own cores, which is what the per-worker autoscalers are for.`,
  ].join('\n');
  return { id: 'scale', title: '5. Horizontal scale', headline, markdown, figures: f };
}
