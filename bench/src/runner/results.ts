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

/** Sections in the issue's order: by the number their title starts with. */
function byNumber<T extends { readonly title: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => parseFloat(a.title) - parseFloat(b.title));
}

/** bench/RESULTS.md: when, where, how, then one section per scenario in the issue's order. */
export function renderResults(input: ResultsInput): string {
  const { started, finished, machine, sizes, argv, results } = input;
  const minutes = (finished.getTime() - started.getTime()) / 60_000;
  const ordered = byNumber(results);
  return [
    '# Benchmark results',
    '',
    `Written by \`npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}\` (bench/src/runner). Do not edit by hand: run it again.`,
    '',
    `- **Date:** ${started.toISOString()} – ${finished.toISOString()} (${minutes.toFixed(1)} min${sizes.quick ? ', `--quick`: figures are for the smoke test, not for quoting' : ''})`,
    `- **Machine:** ${machine['cpus']} CPUs (${machine['cpuModel']}), ${machine['memory']} memory, Node ${machine['node']}; Redis, Postgres, the load generator and every process of the stack share these cores (and other work on the machine at the time${machine['load'] ? `: 1-minute load average ${machine['load']} during the run` : ''}).`,
    `- **Commands:** \`${BUILD}\`, then \`node dist/bench/runner/main.js${argv.length ? ` ${argv.join(' ')}` : ''}\` (that is what \`npm run bench\` runs).`,
    `- **Method:** every figure is the median of ${sizes.runs} run${sizes.runs === 1 ? '' : 's'} (unless its section says otherwise: a soak runs once) with the range (min–max) in brackets; every A/B comparison is interleaved (A, B, A, B, …) in the same run and given as a ratio of medians. Latencies are per response, from autocannon's response events (sub-millisecond), over closed-loop connections. The apps run as built (\`dist/\`), NODE_ENV=production, LOG_LEVEL=warn, against a database seeded for the run (\`db-cli seed ${sizes.seedArgs.join(' ') || '(default sizes)'}\`, ${sizes.users.toLocaleString('en-US')} users) and Redis key/Bull prefixes of their own, all removed at the end.`,
    '',
    ...ordered.flatMap((r) => [
      `## ${r.title}`,
      '',
      ...(r.runs !== undefined && r.runs !== sizes.runs ? [`*${capitalised(runsText(r.runs))}.*`, ''] : []),
      r.markdown,
      '',
    ]),
  ].join('\n');
}

/** `median of 3 runs`, or `one run` for a scenario that runs once. */
function runsText(runs: number): string {
  return runs === 1 ? 'one run' : `median of ${runs} runs`;
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

const PARTIAL_NOTE =
  '- **Scenarios run on their own** (`--only`) replace their sections in this file; each such section says which run it comes from.';

/**
 * A run of some scenarios (`--only`) into an existing report: their sections replace the ones of
 * the same number (or join them, in order), each saying which run it comes from; every other
 * section and the header, which describe the run that wrote them, stay as they were.
 */
export function mergeResults(previous: string, input: ResultsInput): string {
  const { started, finished, machine, sizes, argv, results } = input;
  const first = previous.search(/^## /m);
  let header = (first < 0 ? previous : previous.slice(0, first)).trimEnd();
  if (!header.includes(PARTIAL_NOTE)) header = `${header}\n${PARTIAL_NOTE}`;
  const kept = (first < 0 ? [] : previous.slice(first).split(/^(?=## )/m)).map((text) => ({
    title: /^## (.*)$/m.exec(text)?.[1] ?? '',
    text: text.trimEnd(),
  }));
  const minutes = (finished.getTime() - started.getTime()) / 60_000;
  const command = `npm run bench -- ${argv.join(' ')}`;
  const fresh = results.map((r) => ({
    title: r.title,
    text: [
      `## ${r.title}`,
      '',
      `*Run on its own: \`${command}\` (after the build above), ${started.toISOString()} – ${finished.toISOString()} (${minutes.toFixed(1)} min), ${machine['cpus']} CPUs (${machine['cpuModel']}), Node ${machine['node']}${machine['load'] ? `, 1-minute load average ${machine['load']} during the run (other work on the machine included)` : ''}; ${runsText(r.runs ?? sizes.runs)}${sizes.quick ? ', `--quick`: figures are for the smoke test, not for quoting' : ''}.*`,
      '',
      r.markdown,
    ].join('\n'),
  }));
  const replaced = (title: string) => fresh.some((r) => parseFloat(r.title) === parseFloat(title) || r.title === title);
  const sections = byNumber([...kept.filter((s) => !replaced(s.title)), ...fresh]);
  return [header, '', ...sections.flatMap((s) => [s.text, ''])].join('\n');
}
