import 'reflect-metadata';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchSizes, type BenchContext } from './context';
import { MemorySampler } from './memory';
import { WORKSPACE_ROOT } from './processes';
import { mergeResults, renderResults, type ResultsInput } from './results';
import type { ScenarioResult } from './report';
import { SCENARIOS } from './scenarios';
import { BenchStack } from './stack';
import { BenchSystem } from './system';

const USAGE = `Usage: npm run bench -- [options]   (builds the apps, then runs node dist/bench/runner/main.js)

  --quick              every scenario, briefly (the smoke test runs this), but redis-cluster
                       unless --only names it
  --runs N             interleaved repetitions of each comparison (default 3; 1 with --quick)
  --soak-minutes N     length of each soak, memory and liveness (default 10; 15 s with --quick)
  --load-seconds N     length of each throughput run (default 10; 1 with --quick)
  --baseline-gateway F another build of the gateway (its main.js, e.g. a copy of dist/apps/gateway
                       built from an earlier commit): warm-floor runs it interleaved with this one
  --app-env A:K=V,...  extra environment for an app of the system (e.g. recommendations-worker:WORKER_CONCURRENCY=16):
                       the same scenarios under other settings, the command saying so in the report
  --only a,b           only these scenarios: ${'${ids}'}
                       (their sections replace their own in an existing report; the rest stay)
  --out FILE           the markdown report (default bench/RESULTS.md; --quick: bench/out/RESULTS.quick.md)
  --json FILE          also write every figure as JSON
  --profiles DIR       where CPU profiles go (default bench/out/profiles)
`;

/** The machine's 1-minute load average, sampled through the run: how busy it was besides the bench. */
const loadSamples: number[] = [];
function sampleLoad(): void {
  loadSamples.push(loadavg()[0]);
}

function machine(): Record<string, string> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  return {
    cpus: String(availableParallelism()),
    cpuModel: model,
    memory: `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    load: `${Math.min(...loadSamples).toFixed(1)}–${Math.max(...loadSamples).toFixed(1)}`,
  };
}

/** `--app-env gateway:K=V,feed-worker:K=V` → { gateway: { K: 'V' }, 'feed-worker': { K: 'V' } }. */
function parseAppEnv(text: string): Record<string, Record<string, string>> {
  const env: Record<string, Record<string, string>> = {};
  for (const item of text.split(',').filter(Boolean)) {
    const match = /^([a-z][a-z0-9-]*):([A-Z][A-Z0-9_]*)=(.*)$/.exec(item);
    if (!match) throw new Error(`--app-env: "${item}" is not app:KEY=value`);
    const [, app, key, value] = match;
    (env[app] ??= {})[key] = value;
  }
  return env;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      'soak-minutes': { type: 'string' },
      'load-seconds': { type: 'string' },
      'baseline-gateway': { type: 'string' },
      'app-env': { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      profiles: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const ids = SCENARIOS.map((s) => s.id);
  if (values.help) {
    process.stdout.write(USAGE.replace('${ids}', ids.join(', ')));
    return;
  }
  const quick = values.quick ?? false;
  const only = values.only
    ? values.only.split(',')
    : SCENARIOS.filter((s) => !quick || s.quick !== false).map((s) => s.id);
  for (const id of only) if (!ids.includes(id)) throw new Error(`unknown scenario "${id}" (known: ${ids.join(', ')})`);
  const sizes = benchSizes(quick, {
    runs: values.runs ? Number(values.runs) : undefined,
    soakMinutes: values['soak-minutes'] ? Number(values['soak-minutes']) : undefined,
    loadSeconds: values['load-seconds'] ? Number(values['load-seconds']) : undefined,
  });
  const out = path.resolve(WORKSPACE_ROOT, values.out ?? (quick ? 'bench/out/RESULTS.quick.md' : 'bench/RESULTS.md'));
  const profileDir = path.resolve(WORKSPACE_ROOT, values.profiles ?? 'bench/out/profiles');
  mkdirSync(profileDir, { recursive: true });

  const started = new Date();
  const stack = new BenchStack();
  const memory = new MemorySampler(() => stack.apps());
  const log = (message: string) =>
    process.stdout.write(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
  let system: Promise<BenchSystem> | undefined;
  const ctx: BenchContext = {
    sizes,
    stack,
    memory,
    log,
    profileDir,
    baselineGateway: values['baseline-gateway']
      ? path.relative(WORKSPACE_ROOT, path.resolve(values['baseline-gateway']))
      : undefined,
    appEnv: parseAppEnv(values['app-env'] ?? ''),
    system: () => (system ??= BenchSystem.start(ctx)),
  };

  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      stack.killAll();
      process.exit(130);
    }
    interrupted = true;
    log(`${signal}: cleaning up (again to kill at once)`);
    void stack.cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A throw inside a load generator's callback lands here, not in the scenario: still clean up.
  process.on('uncaughtException', (error) => {
    process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
    void stack.cleanup().finally(() => process.exit(1));
  });

  const results: ScenarioResult[] = [];
  sampleLoad();
  const loadTimer = setInterval(sampleLoad, 10_000).unref();
  memory.start();
  try {
    for (const scenario of SCENARIOS) {
      if (!only.includes(scenario.id)) continue;
      log(`${scenario.title}`);
      memory.setPhase(scenario.id);
      const t0 = Date.now();
      const result = await scenario.run(ctx, results);
      log(`${scenario.title}: done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      results.push(result);
    }
  } finally {
    clearInterval(loadTimer);
    sampleLoad();
    memory.stop();
    log('cleaning up: stopping processes, deleting keys, dropping the database');
    await stack.cleanup();
  }
  const finished = new Date();
  const input: ResultsInput = { started, finished, machine: machine(), sizes, argv: process.argv.slice(2), results };
  // Some scenarios into an existing report: only their sections change.
  const markdown =
    values.only && existsSync(out) ? mergeResults(readFileSync(out, 'utf8'), input) : renderResults(input);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, markdown);
  log(`wrote ${path.relative(WORKSPACE_ROOT, out)}`);
  if (values.json) {
    const json = path.resolve(WORKSPACE_ROOT, values.json);
    mkdirSync(path.dirname(json), { recursive: true });
    writeFileSync(json, JSON.stringify({ started, finished, machine: machine(), sizes, results }, null, 2));
    log(`wrote ${path.relative(WORKSPACE_ROOT, json)}`);
  }
  const failures = results.flatMap((r) => (r.failures ?? []).map((f) => `${r.id}: ${f}`));
  if (failures.length > 0) throw new Error(`the run found ${failures.length} failure(s):\n  ${failures.join('\n  ')}`);
}

main().catch((error: Error) => {
  process.stderr.write(`bench failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
