// `npm start` as a whole, with stand-in apps (tiny HTTP servers in a temp dist dir, so no build
// is needed): the port layout of --scale, the supervisor restarting a killed app while the rest
// keep answering, giving up on an app that crashes at once, log formats, and Ctrl-C. Needs the
// local Redis and Postgres (or redis-server and initdb for throwaway ones): the launcher probes
// them before it starts the apps; the stand-ins never touch them.
// Run: node --test tools/start.int-spec.mjs
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { APPS } from './lib/config.mjs';
import { isPortFree } from './lib/ports.mjs';

const TOOLS = path.dirname(fileURLToPath(import.meta.url));
const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'wp-start-int-'));
after(() => fs.rmSync(dist, { recursive: true, force: true }));

// Each stand-in answers every request with who it is, logs one pino-style line when it listens,
// and exits on SIGTERM; CRASH_APP names one that fails at once, like an app with a bad config.
const STAND_IN = `
const app = require('node:path').basename(__dirname);
if (process.env.CRASH_APP === app) { console.error(app + ': bad config'); process.exit(1); }
const server = require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ app, pid: process.pid, port: process.env.PORT, redisUrl: process.env.REDIS_URL ?? null }));
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log(JSON.stringify({ level: 'info', time: new Date().toISOString(), service: app, pid: process.pid, hostname: 'h', context: 'Bootstrap', msg: app + ' listening on ' + process.env.PORT }));
  console.log(JSON.stringify({ level: 'info', time: new Date().toISOString(), service: app, pid: process.pid, hostname: 'h', context: 'InstanceLoader', msg: 'AppModule dependencies initialized' }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;
for (const name of [...APPS.map((a) => a.name), 'db-cli']) {
  fs.mkdirSync(path.join(dist, name));
  fs.writeFileSync(
    path.join(dist, name, 'main.js'),
    name === 'db-cli' ? `console.log('db-cli ' + process.argv.slice(2).join(' ') + ': ok');` : STAND_IN,
  );
}

/** A port base with `count` free ports after it. */
async function freePortBase(count) {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await isPortFree(p);
    if (free) return base;
  }
}

function startLauncher(args, env) {
  const childEnv = { ...process.env, NO_COLOR: '1', WP_START_DIST_DIR: dist, WP_START_STOP_TIMEOUT_MS: '5000', ...env };
  for (const name of ['REDIS_URL', 'DATABASE_URL', 'REDIS_CLUSTER_NODES', 'FORCE_COLOR']) delete childEnv[name];
  const child = spawn(process.execPath, [path.join(TOOLS, 'start.mjs'), '--no-build', ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const waiters = [];
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      for (const w of [...waiters]) if (w.pattern.test(line)) w.resolve(line);
    });
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  /** Resolves with the first line (seen or yet to come) matching `pattern`. */
  const line = (pattern, timeoutMs = 30_000) =>
    new Promise((resolve, reject) => {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return resolve(seen);
      const timer = setTimeout(
        () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms. Output:\n${lines.join('\n')}`)),
        timeoutMs,
      );
      waiters.push({
        pattern,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  return { child, lines, line, exited };
}

const whoAt = async (port) => (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })).json();
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('--scale: replicas on consecutive ports; a killed worker comes back while the rest answer; a crashing app is given up on; Ctrl-C stops everything', async () => {
  const base = await freePortBase(8);
  const launcher = startLauncher(['--scale', 'feed-worker=2,gateway=2'], {
    WP_START_PORT_BASE: String(base),
    CRASH_APP: 'recommendations-worker',
  });
  const started = await launcher.line(/\[start\]\s+started /);
  const pids = Object.fromEntries(
    [...started.matchAll(/([\w.-]+) \(pid (\d+), :(\d+)\)/g)].map(([, name, pid, port]) => [
      name,
      { pid: Number(pid), port: Number(port) },
    ]),
  );
  assert.deepEqual(
    Object.entries(pids).map(([name, { port }]) => [name, port]),
    [
      ['gateway.1', base],
      ['gateway.2', base + 1],
      ['profile-worker', base + 2],
      ['feed-worker.1', base + 3],
      ['feed-worker.2', base + 4],
      ['recommendations-worker', base + 5],
      ['invalidation-worker', base + 6],
    ],
  );
  await launcher.line(/Ready in/);
  for (const name of ['gateway.1', 'gateway.2', 'feed-worker.1', 'feed-worker.2', 'invalidation-worker']) {
    const who = await whoAt(pids[name].port);
    assert.equal(who.pid, pids[name].pid, `${name} answers on its port`);
    assert.equal(who.app, name.replace(/\.\d+$/, ''));
  }
  assert.ok(launcher.lines.some((l) => /^\[start\]\s+gateway\.2\s+http:\/\/127\.0\.0\.1:\d+\/health\/ready/.test(l)));
  // stdout is no terminal: the apps' JSON lines as they wrote them, behind the prefix.
  const jsonLine = await launcher.line(/^\[feed-worker\.2\]\s+\{/);
  assert.equal(JSON.parse(jsonLine.replace(/^\[feed-worker\.2\]\s+/, '')).service, 'feed-worker');

  // SIGKILL one feed worker: the other processes keep answering, it comes back on its port.
  const killed = pids['feed-worker.2'];
  process.kill(killed.pid, 'SIGKILL');
  await launcher.line(/\[start\]\s+feed-worker\.2 was killed by SIGKILL after .* up; restarting it in 500 ms/);
  for (const name of ['gateway.1', 'gateway.2', 'feed-worker.1']) {
    assert.equal((await whoAt(pids[name].port)).pid, pids[name].pid, `${name} unaffected`);
  }
  await launcher.line(/\[start\]\s+feed-worker\.2 is ready again, .* after it went down/);
  const back = await whoAt(killed.port);
  assert.equal(back.app, 'feed-worker');
  assert.notEqual(back.pid, killed.pid);

  // The app that fails at once: retried with back-off, then given up on, the rest left running.
  await launcher.line(
    /\[start\]\s+recommendations-worker exited with code 1; giving up on it, since it stopped 5 times in a row, each time within 10 s of starting\. The rest keep running\./,
  );
  assert.equal(launcher.lines.filter((l) => /recommendations-worker: bad config/.test(l)).length, 5);
  assert.equal((await whoAt(pids['gateway.1'].port)).pid, pids['gateway.1'].pid);
  assert.equal(launcher.child.exitCode, null, 'the launcher keeps running');

  // Ctrl-C: SIGTERM to every app, exit 0, nothing left behind.
  launcher.child.kill('SIGINT');
  assert.deepEqual(await launcher.exited, { code: 0, signal: null });
  assert.ok(launcher.lines.some((l) => /sending SIGTERM to gateway\.1, gateway\.2, profile-worker/.test(l)));
  assert.equal(launcher.lines.at(-1).replace(/\s+/g, ' '), '[start] stopped.');
  for (const { pid } of [...Object.values(pids), back]) assert.equal(alive(pid), false, `pid ${pid} gone`);
});

test('--logs pretty: readable lines, without the start-up inventory', async () => {
  const base = await freePortBase(5);
  const launcher = startLauncher(['--logs', 'pretty'], { WP_START_PORT_BASE: String(base) });
  await launcher.line(/Ready in/);
  const pretty = await launcher.line(
    /^\[gateway\]\s+\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \(Bootstrap\) gateway listening on/,
  );
  assert.ok(!pretty.includes('"pid"'));
  assert.ok(!launcher.lines.some((l) => l.includes('dependencies initialized')), 'inventory left out');
  launcher.child.kill('SIGTERM');
  assert.deepEqual(await launcher.exited, { code: 0, signal: null });
});
