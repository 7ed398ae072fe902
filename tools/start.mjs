#!/usr/bin/env node
// `npm start`: the whole worker-pattern system on one machine. See `npm start -- --help` and
// docs in tools/lib/args.mjs (USAGE). Pure helpers live in tools/lib/ and are unit-tested by
// tools/start.spec.mjs (node --test tools/start.spec.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { USAGE, UsageError, parseArgs } from './lib/args.mjs';
import { findExecutable, findPostgresBinaries, lookupSystemUser, DEFAULT_PG_LIB_ROOT } from './lib/binaries.mjs';
import {
  APPS,
  BUILD_PROJECTS,
  DEFAULT_PORT_BASE,
  DEFAULT_STOP_TIMEOUT_MS,
  databaseNameOf,
  dbCliSteps,
  formatDuration,
  intFromEnv,
  redactUrl,
  resolveServiceConfig,
} from './lib/config.mjs';
import { LauncherError, ShutdownRequested } from './lib/errors.mjs';
import { isPortFree } from './lib/ports.mjs';
import { COLORS, formatPrefix, shouldUseColor } from './lib/prefix.mjs';
import { describeExit, killAllChildrenSync, startChild } from './lib/procs.mjs';
import { removeAllTempDirsSync, startThrowawayPostgres, startThrowawayRedis } from './lib/services.mjs';

/** For errors and callbacks that are deliberately ignored. */
const ignore = () => undefined;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PREFIX_WIDTH = Math.max(...[...APPS.map((a) => a.name), 'db-cli', 'postgres', 'start'].map((n) => n.length));
const useColor = shouldUseColor(process.stdout, process.env);
const colorOf = (name) => (useColor ? COLORS[name] : undefined);

// ---------------------------------------------------------------------------------------------
// Output

function write(stream, name, text) {
  const prefix = formatPrefix(name, PREFIX_WIDTH, colorOf(name));
  stream.write(
    String(text)
      .split('\n')
      .map((line) => `${prefix}${line}`)
      .join('\n') + '\n',
  );
}
const say = (text) => write(process.stdout, 'start', text);
const warn = (text) => write(process.stderr, 'start', text);
const bold = (s) => (useColor ? `\x1b[1m${s}\x1b[0m` : s);
for (const stream of [process.stdout, process.stderr]) stream.on('error', ignore); // EPIPE

// ---------------------------------------------------------------------------------------------
// Shutdown: the first SIGINT/SIGTERM/SIGHUP asks every phase to stop; a second kills at once.

const shutdown = { requested: false, signal: undefined, forced: false, at: 0 };
// `npm start` forwards the terminal's SIGINT to us, and the terminal sends it to us as well: the
// same Ctrl-C arrives twice within milliseconds. Only a signal after this window counts as the
// "second Ctrl-C" that kills at once.
const DUPLICATE_SIGNAL_WINDOW_MS = 1000;
let announceShutdown;
const shutdownRequested = new Promise((resolve) => {
  announceShutdown = resolve;
});

function onSignal(signal) {
  if (!shutdown.requested) {
    shutdown.requested = true;
    shutdown.signal = signal;
    shutdown.at = Date.now();
    process.stdout.write('\n');
    say(`${signal} received: stopping everything (press Ctrl-C again to kill at once)...`);
    announceShutdown();
  } else if (!shutdown.forced && Date.now() - shutdown.at > DUPLICATE_SIGNAL_WINDOW_MS) {
    shutdown.forced = true;
    say(`${signal} received again: killing every child process now.`);
    killAllChildrenSync();
  }
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, onSignal);

// Whatever happens (even a bug in this file), leave no process or temp dir behind.
process.on('exit', () => {
  killAllChildrenSync();
  removeAllTempDirsSync();
});
process.on('uncaughtException', (err) => {
  warn(`internal error: ${err?.stack ?? err}`);
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  warn(`internal error: ${err?.stack ?? err}`);
  process.exit(1);
});

function throwIfStopping() {
  if (shutdown.requested) throw new ShutdownRequested();
}

// ---------------------------------------------------------------------------------------------
// Redis and Postgres

function installHint(lines) {
  return lines.map((l) => `    ${l}`).join('\n');
}

async function ensureRedis(cfg, probe, services) {
  const shown = redactUrl(cfg.url);
  if (probe.ok) return { url: cfg.url, note: cfg.explicit ? 'from REDIS_URL' : 'local, default URL' };
  if (cfg.explicit) {
    throw new LauncherError(
      `REDIS_URL is set to ${shown}, but ${
        probe.reachable
          ? `the server there refused the connection: ${probe.reason}`
          : `no Redis answers there (${probe.reason})`
      }.\nThe launcher never replaces a URL you set. ${
        probe.reachable ? 'Fix the credentials in REDIS_URL' : 'Start that Redis or fix REDIS_URL'
      }; or unset REDIS_URL to use a\nlocal Redis on 127.0.0.1:6379 (or a throwaway redis-server the launcher starts itself).`,
    );
  }
  if (probe.reachable) {
    throw new LauncherError(
      `A Redis server answers at ${shown}, but refused the connection: ${probe.reason}.\nSet REDIS_URL to a Redis you can use, e.g. REDIS_URL=redis://:PASSWORD@127.0.0.1:6379 npm start`,
    );
  }
  const redisServer = findExecutable('redis-server');
  if (!redisServer) {
    throw new LauncherError(
      `Redis is not reachable at ${shown} (${probe.reason}) and REDIS_URL is not set, so the launcher\nlooked for redis-server to start a throwaway one, but there is no redis-server on PATH\n(${process.env.PATH ?? ''}).\nDo one of:\n${installHint(
        [
          'install Redis:  sudo apt-get install redis-server    (Debian/Ubuntu)',
          '                brew install redis                   (macOS)',
          'or point the launcher at a Redis you run:  REDIS_URL=redis://HOST:6379 npm start',
        ],
      )}`,
    );
  }
  say(`Redis is not reachable at ${shown} (${probe.reason}); starting a throwaway ${redisServer} ...`);
  const service = await startThrowawayRedis({ redisServer, shouldStop: () => shutdown.requested });
  services.push(service);
  say(`throwaway Redis is up at ${service.url} (pid ${service.process.pid}, dir ${service.dir})`);
  return { url: service.url, note: 'throwaway, removed on exit' };
}

async function ensurePostgres(cfg, probe, services) {
  const shown = redactUrl(cfg.url);
  if (probe.ok) return { url: cfg.url, note: cfg.explicit ? 'from DATABASE_URL' : 'local, default URL' };
  if (cfg.explicit) {
    throw new LauncherError(
      `DATABASE_URL is set to ${shown}, but ${
        probe.reachable
          ? `the server there refused the connection to its "postgres" database: ${probe.reason}`
          : `no Postgres answers there (${probe.reason})`
      }.\nThe launcher never replaces a URL you set. ${
        probe.reachable ? 'Fix the user/password in DATABASE_URL' : 'Start that server or fix DATABASE_URL'
      }; or unset DATABASE_URL to use a\nlocal Postgres on 127.0.0.1:5432 (or a throwaway cluster the launcher creates itself).`,
    );
  }
  if (probe.reachable) {
    throw new LauncherError(
      `A Postgres server answers at ${shown}, but refused the connection: ${probe.reason}.\nSet DATABASE_URL to a server and user you can use, e.g.\n  DATABASE_URL=postgres://USER:PASSWORD@127.0.0.1:5432/worker_pattern npm start`,
    );
  }
  const libRoot = process.env.WP_START_PG_LIB_ROOT || DEFAULT_PG_LIB_ROOT;
  const bins = findPostgresBinaries({ pathEnv: process.env.PATH ?? '', libRoot });
  if (!bins.binDir) {
    throw new LauncherError(
      `Postgres is not reachable at ${shown} (${probe.reason}) and DATABASE_URL is not set, so the launcher\nlooked for the Postgres server binaries (initdb and postgres) to start a throwaway cluster, but found none\non PATH or in ${libRoot}/*/bin.\nDo one of:\n${installHint(
        [
          'install PostgreSQL:  sudo apt-get install postgresql    (Debian/Ubuntu)',
          '                     brew install postgresql@16         (macOS)',
          'or point the launcher at a Postgres you run:',
          '  DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/worker_pattern npm start',
        ],
      )}`,
    );
  }
  let runAs;
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    const user = lookupSystemUser('postgres');
    if (!user) {
      throw new LauncherError(
        `Postgres is not reachable at ${shown} (${probe.reason}) and DATABASE_URL is not set. The server binaries are\nin ${bins.binDir}, but initdb refuses to run as root and there is no "postgres" system user to run it as.\nDo one of:\n${installHint(
          [
            'run npm start as a normal (non-root) user',
            'create the user:  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres',
            'or point the launcher at a Postgres you run:',
            '  DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/worker_pattern npm start',
          ],
        )}`,
      );
    }
    runAs = { name: 'postgres', ...user };
  }
  say(
    `Postgres is not reachable at ${shown} (${probe.reason}); creating a throwaway cluster with ${bins.binDir}/initdb${
      runAs ? ' as user postgres (initdb refuses to run as root)' : ''
    } ...`,
  );
  const service = await startThrowawayPostgres({
    bins,
    runAs,
    database: databaseNameOf(cfg.url),
    shouldStop: () => shutdown.requested,
  });
  services.push(service);
  say(`throwaway Postgres is up at ${service.url} (pid ${service.process.pid}, dir ${service.dir})`);
  return { url: service.url, note: 'throwaway, removed on exit' };
}

async function prepareServices(services) {
  const cfg = resolveServiceConfig(process.env);
  let probes;
  try {
    probes = await import('./lib/probes.mjs');
    // ioredis and pg load lazily inside the probes; make a missing install a clear message.
    await Promise.all([import('ioredis'), import('pg')]);
  } catch (err) {
    throw new LauncherError(`Cannot load ioredis/pg (${err.message}).\nInstall the dependencies first:  npm ci`);
  }
  const t0 = Date.now();
  const [redisProbe, pgProbe] = await Promise.all([
    probes.probeRedis(cfg.redis.url, { timeoutMs: 1500 }),
    probes.probePostgres(cfg.database.url, { timeoutMs: 1500 }),
  ]);
  throwIfStopping();
  // Start whatever is missing side by side; a failure in one still leaves the other in
  // `services`, so it is stopped on the way out.
  const [redis, database] = await Promise.allSettled([
    ensureRedis(cfg.redis, redisProbe, services),
    ensurePostgres(cfg.database, pgProbe, services),
  ]);
  throwIfStopping();
  const failures = [redis, database].filter((r) => r.status === 'rejected').map((r) => r.reason);
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    if (failures.every((f) => f instanceof LauncherError)) {
      throw new LauncherError(failures.map((f) => f.message).join('\n\n'));
    }
    throw failures.find((f) => !(f instanceof LauncherError)) ?? failures[0];
  }
  say(`Redis     ${redactUrl(redis.value.url)}  (${redis.value.note})`);
  say(`Postgres  ${redactUrl(database.value.url)}  (${database.value.note})  [${formatDuration(Date.now() - t0)}]`);
  return { redisUrl: redis.value.url, databaseUrl: database.value.url };
}

async function stopServices(services) {
  for (const service of [...services].reverse()) {
    const t0 = Date.now();
    await service.stop();
    say(
      `stopped the throwaway ${service.kind === 'redis' ? 'Redis' : 'Postgres'} and removed ${service.dir} [${formatDuration(Date.now() - t0)}]`,
    );
  }
  services.length = 0;
}

// ---------------------------------------------------------------------------------------------
// Steps: build, db-cli

/** Runs a child to completion; on shutdown, stops it and throws ShutdownRequested. */
async function runStep(managed, stopTimeoutMs) {
  const first = await Promise.race([managed.exited, shutdownRequested.then(() => 'shutdown')]);
  if (first === 'shutdown') {
    const info = await managed.stop({ signal: 'SIGTERM', timeoutMs: stopTimeoutMs });
    if (info.killed) warn(`${managed.name} did not stop within ${formatDuration(stopTimeoutMs)}; killed it`);
    throw new ShutdownRequested();
  }
  return first;
}

async function build(stopTimeoutMs) {
  const localNx = path.join(ROOT, 'node_modules', '.bin', 'nx');
  const [command, prefixArgs] = fs.existsSync(localNx) ? [localNx, []] : ['npx', ['--no', 'nx']];
  const args = [...prefixArgs, 'run-many', '-t', 'build', '-p', BUILD_PROJECTS.join(',')];
  say(`building: nx ${args.slice(prefixArgs.length).join(' ')}  (NX_DAEMON=false; cached when nothing changed)`);
  const t0 = Date.now();
  const managed = startChild('build', command, args, {
    cwd: ROOT,
    env: { ...process.env, NX_DAEMON: 'false' },
    output: 'inherit',
  });
  const info = await runStep(managed, stopTimeoutMs);
  if (info.code !== 0) {
    throw new LauncherError(
      `The build ${describeExit(info)} (see the Nx output above).\nFix it, or run with --no-build to use what is already in dist/apps/.`,
    );
  }
  say(`build done [${formatDuration(Date.now() - t0)}]`);
}

function mainJsOf(distDir, name) {
  return path.join(distDir, name, 'main.js');
}

/** A path relative to the repo when it is inside it, else absolute. */
function shownPath(p) {
  const rel = path.relative(ROOT, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

function checkBuilt(distDir, built) {
  const missing = BUILD_PROJECTS.filter((name) => !fs.existsSync(mainJsOf(distDir, name)));
  if (missing.length) {
    throw new LauncherError(
      `Not built: ${missing.map((n) => shownPath(mainJsOf(distDir, n))).join(', ')}.\n${
        built
          ? "The build succeeded but did not produce them; check the projects' webpack output paths."
          : 'Run npm start without --no-build (or npx nx run-many -t build).'
      }`,
    );
  }
}

async function runDbCli(distDir, env, users, stopTimeoutMs) {
  for (const step of dbCliSteps(users)) {
    throwIfStopping();
    const t0 = Date.now();
    say(`db-cli ${step.join(' ')}`);
    const managed = startChild('db-cli', process.execPath, [mainJsOf(distDir, 'db-cli'), ...step], {
      cwd: ROOT,
      env,
      prefixWidth: PREFIX_WIDTH,
      color: colorOf('db-cli'),
    });
    const info = await runStep(managed, stopTimeoutMs);
    if (info.code !== 0) {
      throw new LauncherError(
        `db-cli ${step.join(' ')} ${describeExit(info)} (its output is above, prefixed [db-cli]).`,
      );
    }
    say(`db-cli ${step[0]} done [${formatDuration(Date.now() - t0)}]`);
  }
}

// ---------------------------------------------------------------------------------------------
// Apps

async function checkAppPorts(portBase) {
  const busy = [];
  for (const app of APPS) {
    const port = portBase + app.offset;
    if (!(await isPortFree(port))) busy.push({ port, name: app.name });
  }
  if (busy.length) {
    throw new LauncherError(
      `Port${busy.length > 1 ? 's' : ''} ${busy.map((b) => `${b.port} (${b.name})`).join(', ')} ${
        busy.length > 1 ? 'are' : 'is'
      } already in use. Is another npm start or nx serve running?\nStop it first; this shows what listens there:  ss -ltnp 'sport = :${busy[0].port}'`,
    );
  }
}

async function httpStatus(url, timeoutMs = 2000) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer().catch(ignore);
    return { ok: res.status === 200, status: `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, status: err?.cause?.code ?? err?.name ?? 'error' };
  }
}

async function waitForGateway(portBase, isOver) {
  const url = `http://127.0.0.1:${portBase}/health/ready`;
  const t0 = Date.now();
  let nextNote = t0 + 30_000;
  while (!isOver()) {
    const res = await httpStatus(url);
    if (res.ok) return true;
    if (Date.now() > nextNote) {
      say(`still waiting for ${url} (last answer: ${res.status}, ${formatDuration(Date.now() - t0)} so far)`);
      nextNote = Date.now() + 30_000;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

async function printBanner(portBase, urls, t0) {
  const base = (app) => `http://127.0.0.1:${portBase + app.offset}`;
  const states = await Promise.all(APPS.map((app) => httpStatus(`${base(app)}/health/ready`)));
  const width = Math.max(...APPS.map((a) => a.name.length));
  const rule = '-'.repeat(72);
  say(
    [
      rule,
      bold(`Open http://127.0.0.1:${portBase}/?userId=1`),
      '',
      ...APPS.map(
        (app, i) =>
          `  ${app.name.padEnd(width)}  ${base(app)}/health/ready  ${base(app)}/metrics  ${states[i].ok ? 'ready' : `not ready yet (${states[i].status})`}`,
      ),
      '',
      `  Redis     ${redactUrl(urls.redisUrl)}`,
      `  Postgres  ${redactUrl(urls.databaseUrl)}`,
      '',
      `Ready in ${formatDuration(Date.now() - t0)}. Ctrl-C stops everything.`,
      rule,
    ].join('\n'),
  );
}

async function runApps({ distDir, env, portBase, services, urls, stopTimeoutMs, t0 }) {
  throwIfStopping();
  const apps = APPS.map((app) =>
    startChild(app.name, process.execPath, [mainJsOf(distDir, app.name)], {
      cwd: ROOT,
      env: { ...env, PORT: String(portBase + app.offset) },
      prefixWidth: PREFIX_WIDTH,
      color: colorOf(app.name),
    }),
  );
  say(`started ${APPS.map((a, i) => `${a.name} (pid ${apps[i].pid}, :${portBase + a.offset})`).join(', ')}`);

  // The first of: a shutdown request, an app exiting, a throwaway server exiting.
  const watched = [...apps, ...services.map((s) => s.process)];
  let over = false;
  const firstEvent = Promise.race([
    shutdownRequested.then(() => ({ kind: 'shutdown' })),
    ...watched.map((m) => m.exited.then((info) => ({ kind: 'exit', managed: m, info }))),
  ]);
  firstEvent.then(() => {
    over = true;
  });
  waitForGateway(portBase, () => over).then((ready) => {
    if (ready && !over) return printBanner(portBase, urls, t0);
  });

  const event = await firstEvent;
  let exitCode = 0;
  if (event.kind === 'exit') {
    const what = services.some((s) => s.process === event.managed)
      ? `the throwaway ${event.managed.name === 'redis' ? 'Redis' : 'Postgres'}`
      : event.managed.name;
    warn(`${what} ${describeExit(event.info)} unexpectedly; stopping the rest.`);
    if (event.managed.name === 'redis' || event.managed.name === 'postgres') {
      warn(`its last output:\n  ${event.managed.tail().slice(-20).join('\n  ')}`);
    }
    exitCode = 1;
  }

  const t1 = Date.now();
  const running = apps.filter((a) => !a.exit);
  if (running.length) {
    say(`sending SIGTERM to ${running.map((a) => a.name).join(', ')} (waiting up to ${formatDuration(stopTimeoutMs)})`);
  }
  const results = await Promise.all(running.map((a) => a.stop({ signal: 'SIGTERM', timeoutMs: stopTimeoutMs })));
  running.forEach((a, i) => {
    if (results[i].killed)
      warn(`${a.name} did not exit within ${formatDuration(stopTimeoutMs)} of SIGTERM; killed it (SIGKILL)`);
    else if (exitCode === 0 && results[i].code !== 0 && results[i].code !== null)
      warn(`${a.name} ${describeExit(results[i])} while stopping`);
  });
  if (running.length) say(`apps stopped [${formatDuration(Date.now() - t1)}]`);
  return exitCode;
}

async function runServicesOnly({ services, urls }) {
  say(
    [
      'services are up (--services-only):',
      `  REDIS_URL=${urls.redisUrl}`,
      `  DATABASE_URL=${urls.databaseUrl}`,
      services.length
        ? 'Ctrl-C stops the throwaway server(s) and removes their temp dirs.'
        : 'Nothing to stop: both were already running. Ctrl-C to exit.',
    ].join('\n'),
  );
  const event = await Promise.race([
    shutdownRequested.then(() => ({ kind: 'shutdown' })),
    ...services.map((s) => s.process.exited.then((info) => ({ kind: 'exit', service: s, info }))),
  ]);
  if (event.kind === 'exit') {
    warn(
      `the throwaway ${event.service.kind} ${describeExit(event.info)} unexpectedly. Its last output:\n  ${event.service.process.tail().slice(-20).join('\n  ')}`,
    );
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`start: ${err.message}\nRun "npm start -- --help" for usage.\n`);
      return 2;
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  if (opts.servicesOnly && (opts.users !== undefined || !opts.build)) {
    warn('--users and --no-build have no effect with --services-only (nothing is built or seeded).');
  }

  const t0 = Date.now();
  const services = [];
  let exitCode = 0;
  // Keep the event loop alive while we only wait for a signal (e.g. --services-only with
  // nothing of our own running).
  const keepAlive = setInterval(ignore, 1 << 30);
  try {
    const portBase = intFromEnv(process.env, 'WP_START_PORT_BASE', DEFAULT_PORT_BASE, { max: 65_532 });
    const stopTimeoutMs = intFromEnv(process.env, 'WP_START_STOP_TIMEOUT_MS', DEFAULT_STOP_TIMEOUT_MS);
    const distDir = path.resolve(ROOT, process.env.WP_START_DIST_DIR || path.join('dist', 'apps'));
    if (!fs.existsSync(path.join(ROOT, 'node_modules'))) {
      throw new LauncherError('node_modules is missing. Install the dependencies first:  npm ci');
    }
    if (!opts.servicesOnly) {
      await checkAppPorts(portBase);
      if (!opts.build) checkBuilt(distDir, false); // fail before starting any server
    }

    const urls = await prepareServices(services);
    throwIfStopping();
    if (opts.servicesOnly) {
      exitCode = await runServicesOnly({ services, urls });
    } else {
      if (opts.build) await build(stopTimeoutMs);
      else say(`--no-build: using what is in ${shownPath(distDir)}/`);
      checkBuilt(distDir, opts.build);
      const env = { ...process.env, REDIS_URL: urls.redisUrl, DATABASE_URL: urls.databaseUrl };
      await runDbCli(distDir, env, opts.users, stopTimeoutMs);
      exitCode = await runApps({ distDir, env, portBase, services, urls, stopTimeoutMs, t0 });
    }
  } catch (err) {
    if (err instanceof ShutdownRequested) {
      exitCode = 0;
    } else if (err instanceof LauncherError) {
      warn(err.message);
      exitCode = err.exitCode;
    } else {
      warn(`internal error: ${err?.stack ?? err}`);
      exitCode = 1;
    }
  } finally {
    try {
      await stopServices(services);
    } catch (err) {
      warn(`while stopping the throwaway servers: ${err?.message ?? err}`);
      exitCode ||= 1;
    }
    clearInterval(keepAlive);
  }
  say(exitCode === 0 ? 'stopped.' : `stopped (exit code ${exitCode}).`);
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    warn(`internal error: ${err?.stack ?? err}`);
    process.exit(1);
  },
);
