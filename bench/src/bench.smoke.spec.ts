import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// The smoke test of the benchmarks: `--quick` end to end (real Redis and Postgres, the built apps
// as processes), into a temp file rather than bench/RESULTS.md. It checks that every scenario ran
// and produced its figures — not what they are: timings on a shared machine prove nothing here.
// `--quick` leaves out redis-cluster (its set-up alone takes about 45 s); run it with
// `npm run bench -- --quick --only redis-cluster`.

const ROOT = path.resolve(__dirname, '../..');

/** The headline figures each scenario must report (the JSON output's `headline`). */
const EXPECTED: Record<string, readonly string[]> = {
  'version-zero': [
    'warmThroughputRatio',
    'warmP99Ratio',
    'coldP50Ratio',
    'completePageP50Ms',
    'fatColdP50Ms',
    'completePageCpuMs',
    'fatColdCpuMs',
  ],
  'warm-floor': ['throughputRatio', 'gatewayCpuUs', 'floorCpuUs'],
  'engine-vs-bull': ['ratio', 'engineJobsPerSecond', 'rawJobsPerSecond', 'ratioWith1msBuild', 'ratioWith5msBuild'],
  burst: ['builds', 'buildsWaiting', 'p50', 'p99'],
  scale: ['io1JobsPerSecond', 'io2JobsPerSecond', 'cpu1JobsPerSecond', 'cpu2JobsPerSecond'],
  'time-to-fragment': ['pageP50', 'pageP99', 'profileOverheadMs', 'feedOverheadMs', 'recommendationsOverheadMs'],
  freshness: ['p50Ms', 'p99Ms'],
  replicas: ['throughputRatio', 'freshnessP50Ratio', 'freshnessP99Ratio', 'replicaShare'],
  fanout: ['seedSeconds', 'pullVisibleP50Ms', 'pullInvalidations', 'pullRssGrowth', 'pushFanoutMs', 'pushRssGrowth'],
  capacity: ['warmPredicted', 'warmMeasured', 'buildsPredicted', 'buildsMeasured', 'warmGatewayUs', 'warmRedisUs'],
  storm: ['realWritesPerSecond', 'realOldestMs', 'realSettleMs', 'slowWritesPerSecond', 'slowOldestMs', 'slowSettleMs'],
  liveness: ['posts', 'pairs', 'misses', 'stuck', 'visibleP50Ms', 'visibleMaxMs'],
  memory: ['gatewayPeakRss', 'workerPeakRss', 'soakErrors', 'listenersBefore', 'listenersAfter'],
};

function runQuick(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/bench/runner/main.js'), '--quick', ...args], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm run bench -- --quick', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-quick-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every scenario and each one reports its figures', async () => {
    const out = path.join(dir, 'RESULTS.md');
    const json = path.join(dir, 'results.json');
    const { code, output } = await runQuick(['--out', out, '--json', json, '--profiles', path.join(dir, 'profiles')]);
    expect({ code, tail: code === 0 ? '' : output.split('\n').slice(-40).join('\n') }).toEqual({ code: 0, tail: '' });

    const { results } = JSON.parse(readFileSync(json, 'utf8')) as {
      results: Array<{ id: string; title: string; headline: Record<string, number> }>;
    };
    expect(results.map((r) => r.id).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const result of results) {
      for (const name of EXPECTED[result.id]) {
        expect({ scenario: result.id, figure: name, finite: Number.isFinite(result.headline[name]) }).toEqual({
          scenario: result.id,
          figure: name,
          finite: true,
        });
      }
    }
    // One burst, one build: the figure the pattern exists for (the runner also fails the run otherwise).
    expect(results.find((r) => r.id === 'burst')?.headline['builds']).toBe(1);
    // Every post on every following open stream, none stuck (the runner also fails the run otherwise).
    const liveness = results.find((r) => r.id === 'liveness')?.headline;
    expect({ misses: liveness?.['misses'], stuck: liveness?.['stuck'] }).toEqual({ misses: 0, stuck: 0 });

    const markdown = readFileSync(out, 'utf8');
    for (const result of results) expect(markdown).toContain(`## ${result.title}`);
  }, 600_000);
});
