import { parseServerStats, statsDelta } from './bench-redis';
import { benchSizes } from './context';
import { mergeResults, renderResults, type ResultsInput } from './results';

function input(results: ResultsInput['results'], argv: string[]): ResultsInput {
  return {
    started: new Date('2026-12-04T16:00:00Z'),
    finished: new Date('2026-12-04T16:06:00Z'),
    machine: { cpus: '2', cpuModel: 'test CPU', memory: '1 GiB', node: 'v20' },
    sizes: benchSizes(false, {}),
    argv,
    results,
  };
}

const section = (title: string, markdown: string) => ({ id: title, title, headline: {}, markdown });

describe('the results report', () => {
  const full = renderResults(
    input(
      [
        section('2. Warm page', 'warm figures\n\n### Profile\n\nprofile figures'),
        section('9. Read replicas', 'replica figures'),
        section('10. Redis Cluster', 'old cluster figures'),
      ],
      ['--json', 'x.json'],
    ),
  );

  it('a run of some scenarios replaces their sections and keeps every other one', () => {
    const merged = mergeResults(
      full,
      input([section('10. Redis Cluster', 'new cluster figures')], ['--only', 'redis-cluster']),
    );
    expect(merged).toContain('warm figures\n\n### Profile\n\nprofile figures');
    expect(merged).toContain('replica figures');
    expect(merged).toContain('new cluster figures');
    expect(merged).not.toContain('old cluster figures');
    expect(merged).toContain('*Run on its own: `npm run bench -- --only redis-cluster`');
    // The header still describes the full run, and says that sections may come from later ones.
    expect(merged.startsWith(full.slice(0, full.indexOf('## ')).trimEnd())).toBe(true);
    expect(merged.match(/Scenarios run on their own/g)).toHaveLength(1);
    expect([...merged.matchAll(/^## (.*)$/gm)].map((m) => m[1])).toEqual([
      '2. Warm page',
      '9. Read replicas',
      '10. Redis Cluster',
    ]);
  });

  it('adds a section the report did not have, in order, and merging again changes nothing else', () => {
    const once = mergeResults(full, input([section('5. Horizontal scale', 'scale figures')], ['--only', 'scale']));
    expect([...once.matchAll(/^## (.*)$/gm)].map((m) => m[1])).toEqual([
      '2. Warm page',
      '5. Horizontal scale',
      '9. Read replicas',
      '10. Redis Cluster',
    ]);
    const twice = mergeResults(once, input([section('5. Horizontal scale', 'scale figures')], ['--only', 'scale']));
    expect(twice).toBe(once);
  });
});

describe('Redis server stats', () => {
  it('reads calls per command and socket reads from INFO, and subtracts snapshots', () => {
    const before = parseServerStats(
      'cmdstat_evalsha:calls=10,usec=5\ncmdstat_cluster|slots:calls=2,usec=1\ntotal_reads_processed:100\n',
    );
    const after = parseServerStats(
      'cmdstat_evalsha:calls=25,usec=9\ncmdstat_eval:calls=15,usec=3\ncmdstat_cluster|slots:calls=2,usec=1\ntotal_reads_processed:130\n',
    );
    expect(before).toEqual({ calls: { evalsha: 10, 'cluster|slots': 2 }, reads: 100 });
    expect(statsDelta(before, after)).toEqual({ calls: { evalsha: 15, eval: 15 }, reads: 30 });
  });
});
