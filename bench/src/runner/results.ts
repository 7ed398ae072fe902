import type { BenchSizes } from './context';
import type { ScenarioResult } from './report';

export interface ResultsInput {
  readonly started: Date;
  readonly finished: Date;
  readonly machine: Record<string, string>;
  readonly sizes: BenchSizes;
  readonly argv: readonly string[];
  readonly results: readonly ScenarioResult[];
}

const BUILD =
  'NX_DAEMON=false npx nx run-many -t build -p gateway,profile-worker,feed-worker,recommendations-worker,invalidation-worker,db-cli,bench';

/** bench/RESULTS.md: when, where, how, then one section per scenario in the issue's order. */
export function renderResults(input: ResultsInput): string {
  const { started, finished, machine, sizes, argv, results } = input;
  const minutes = (finished.getTime() - started.getTime()) / 60_000;
  const ordered = [...results].sort((a, b) => parseFloat(a.title) - parseFloat(b.title));
  return [
    '# Benchmark results',
    '',
    `Written by \`npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\` (bench/src/runner). Do not edit by hand: run it again.`,
    '',
    `- **Date:** ${started.toISOString()} – ${finished.toISOString()} (${minutes.toFixed(1)} min${sizes.quick ? ', `--quick`: figures are for the smoke test, not for quoting' : ''})`,
    `- **Machine:** ${machine['cpus']} CPUs (${machine['cpuModel']}), ${machine['memory']} memory, Node ${machine['node']}; Redis, Postgres, the load generator and every process of the stack share these cores (and other work on the machine at the time).`,
    `- **Commands:** \`${BUILD}\`, then \`node dist/bench/runner/main.js${argv.length ? ` ${argv.join(' ')}` : ''}\` (that is what \`npm run bench\` runs).`,
    `- **Method:** every figure is the median of ${sizes.runs} run${sizes.runs === 1 ? '' : 's'} with the range (min–max) in brackets; every A/B comparison is interleaved (A, B, A, B, …) in the same run and given as a ratio of medians. Latencies are per response, from autocannon's response events (sub-millisecond), over closed-loop connections. The apps run as built (\`dist/\`), NODE_ENV=production, LOG_LEVEL=warn, against a database seeded for the run (\`db-cli seed ${sizes.seedArgs.join(' ') || '(default sizes)'}\`, ${sizes.users.toLocaleString('en-US')} users) and Redis key/Bull prefixes of their own, all removed at the end.`,
    '',
    ...ordered.flatMap((r) => [`## ${r.title}`, '', r.markdown, '']),
  ].join('\n');
}
