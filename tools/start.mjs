#!/usr/bin/env node
// `npm start`: the whole worker-pattern system on one machine. See `npm start -- --help` and
// docs in tools/lib/args.mjs (USAGE). Pure helpers live in tools/lib/ and are unit-tested by
// tools/start.spec.mjs (node --test tools/start.spec.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { USAGE, UsageError, parseArgs } from './lib/args.mjs';
import {
  DEFAULT_PG_LIB_ROOT,
  describePostgresSetupProblem,
  findExecutable,
  findPostgresSetup,
} from './lib/binaries.mjs';
import {
  APPS,
  BUILD_PROJECTS,
  DEFAULT_PORT_BASE,
  DEFAULT_STOP_TIMEOUT_MS,
  databaseNameOf,
  dbCliSteps,
  formatDuration,
  intFromEnv,
  parseHostPorts,
  redactUrl,
  resolveServiceConfig,
} from './lib/config.mjs';
import { LauncherError, ShutdownRequested } from './lib/errors.mjs';
import { planInstances } from './lib/instances.mjs';
import { createLogFormatter } from './lib/log-format.mjs';
import { isPortFree } from './lib/ports.mjs';
import { COLORS, formatPrefix, shouldUseColor } from './lib/prefix.mjs';
import { describeExit, killAllChildrenSync, startChild } from './lib/procs.mjs';
import { startReplicatedPostgres } from './lib/postgres-replica.mjs';
import { probeRedisCluster, startRedisCluster } from './lib/redis-cluster.mjs';
import { removeAllTempDirsSync, startThrowawayPostgres, startThrowawayRedis } from './lib/services.mjs';
import { supervise } from './lib/supervisor.mjs';

/** For errors and callbacks that are deliberately ignored. */
const ignore = () => undefined;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Widened once the replicas are known (feed-worker.2 ...), so every line starts in one column.
let prefixWidth = Math.max(...[...APPS.map((a) => a.name), 'db-cli', 'postgres', 'start'].map((n) => n.length));
const useColor = shouldUseColor(process.stdout, process.env);
const colorOf = (name) => (useColor ? COLORS[name] : undefined);
/** How app log lines are shown (see log-format.mjs); set in main() from --logs or the terminal. */
let formatLine = (line) => line;

// ---------------------------------------------------------------------------------------------
// Output

function write(stream, name, text) {
  const prefix = formatPrefix(name, prefixWidth, colorOf(name));
  stream.write(
    String(text)
      .split('\n')
      .map((line) => `${prefix}${line}`)
      .join('\n') + '\n',
  );
}
const say = (text) => write(process.stdout, 'start', text);
const warn = (text) => write(process.stderr, 'start', text);
/** For supervisors and the services they restart: what happened, in the launcher's voice. */
const log = { info: say, warn };
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
  if (probe.ok) return redisAt(cfg.url, cfg.explicit ? 'from REDIS_URL' : 'local, default URL');
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
  return redisAt(service.url, 'throwaway, removed on exit');
}

/** What the apps get for Redis, and how the launcher shows it. */
function redisAt(url, note) {
  return { env: { REDIS_URL: url }, describe: async () => [`Redis     ${redactUrl(url)}  (${note})`] };
}

function clusterDescription(seeds, note, topology) {
  return async () => {
    const lines = [`Redis     Redis Cluster ${seeds}  (${note})`];
    const nodes = (await topology?.()) ?? [];
    for (const node of nodes) {
      if (node.role.startsWith('master')) {
        const replicas = nodes.filter((n) => n.masterPort === node.port).map((n) => `:${n.port}`);
        lines.push(
          `          :${node.port} ${node.role}, slots ${node.slots || 'none'}${replicas.length ? `; replica ${replicas.join(', ')}` : ''}`,
        );
      }
    }
    return lines;
  };
}

/** REDIS_CLUSTER_NODES you set: checked (cluster_state:ok) and passed on as it is. */
function useRedisCluster(seeds, probe) {
  if (!probe.ok) {
    throw new LauncherError(
      `REDIS_CLUSTER_NODES is set to ${seeds}, but ${
        probe.reachable
          ? `the node ${probe.via} answered and ${probe.reason}`
          : `no node there answers (${probe.reason})`
      }.\nStart that cluster or fix REDIS_CLUSTER_NODES; or unset it (and use --redis-cluster for a throwaway one).`,
    );
  }
  return {
    env: { REDIS_CLUSTER_NODES: seeds },
    describe: clusterDescription(seeds, `from REDIS_CLUSTER_NODES, cluster_state:ok via ${probe.via}`),
  };
}

async function startCluster(services) {
  const redisServer = findExecutable('redis-server');
  const redisCli = findExecutable('redis-cli');
  if (!redisServer || !redisCli) {
    throw new LauncherError(
      `--redis-cluster needs redis-server and redis-cli, but ${[!redisServer && 'redis-server', !redisCli && 'redis-cli'].filter(Boolean).join(' and ')} ${
        !redisServer && !redisCli ? 'are' : 'is'
      } not on PATH.\nInstall Redis 7 or newer:  sudo apt-get install redis-server    (Debian/Ubuntu)`,
    );
  }
  say('starting a throwaway Redis Cluster (3 masters, 3 replicas) ...');
  const t0 = Date.now();
  const cluster = await startRedisCluster({ redisServer, redisCli, log, shouldStop: () => shutdown.requested });
  services.push(cluster);
  say(`throwaway Redis Cluster is up (dir ${cluster.dir}) [${formatDuration(Date.now() - t0)}]`);
  return {
    env: { REDIS_CLUSTER_NODES: cluster.seeds },
    describe: clusterDescription(cluster.seeds, 'throwaway, removed on exit', () => cluster.topology()),
  };
}

async function ensurePostgres(cfg, probe, services) {
  const shown = redactUrl(cfg.url);
  if (probe.ok) return postgresAt(cfg.url, cfg.explicit ? 'from DATABASE_URL' : 'local, default URL');
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
  const { bins, runAs, problem } = findPostgresSetup({ libRoot });
  if (problem === 'no-binaries') {
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
  if (problem === 'root-without-postgres-user') {
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
  return postgresAt(service.url, 'throwaway, removed on exit');
}

function postgresAt(url, note) {
  return { env: { DATABASE_URL: url }, describe: async () => [`Postgres  ${redactUrl(url)}  (${note})`] };
}

async function startPrimaryAndReplica(cfg, services) {
  const libRoot = process.env.WP_START_PG_LIB_ROOT || DEFAULT_PG_LIB_ROOT;
  const setup = findPostgresSetup({ libRoot });
  if (setup.problem) throw new LauncherError(`--replica: ${describePostgresSetupProblem(setup, libRoot)}`);
  say(
    `starting a throwaway Postgres primary and a streaming replica (initdb, pg_basebackup${setup.runAs ? ', as user postgres' : ''}) ...`,
  );
  const t0 = Date.now();
  const service = await startReplicatedPostgres({
    bins: setup.bins,
    runAs: setup.runAs,
    database: databaseNameOf(cfg.url),
    log,
    shouldStop: () => shutdown.requested,
  });
  services.push(service);
  say(`throwaway primary and replica are up (dir ${service.dir}) [${formatDuration(Date.now() - t0)}]`);
  return {
    env: { DATABASE_URL: service.url, DATABASE_REPLICA_URLS: service.replicaUrls.join(',') },
    describe: async () => [
      `Postgres  ${service.url}  (primary, throwaway, removed on exit)`,
      ...service.replicaUrls.map((url) => `          ${url}  (streaming replica)`),
    ],
  };
}

async function prepareServices(opts, services) {
  const cfg = resolveServiceConfig(process.env);
  if (opts.redisCluster && (cfg.redis.explicit || cfg.redisClusterNodes)) {
    throw new LauncherError(
      `--redis-cluster starts a throwaway Redis Cluster of its own, but ${cfg.redis.explicit ? 'REDIS_URL' : 'REDIS_CLUSTER_NODES'} is set.\nUnset it, or leave out --redis-cluster to use the Redis it names.`,
    );
  }
  if (opts.replica && cfg.database.explicit) {
    throw new LauncherError(
      '--replica starts a throwaway Postgres primary and replica of its own, but DATABASE_URL is set.\nUnset it, or leave out --replica to use the Postgres it names.',
    );
  }
  let seeds;
  if (cfg.redisClusterNodes && !opts.redisCluster) {
    try {
      seeds = parseHostPorts(cfg.redisClusterNodes);
    } catch (err) {
      throw new LauncherError(`REDIS_CLUSTER_NODES must be host:port,host:port,...: ${err.message}`);
    }
  }
  let probes;
  try {
    probes = await import('./lib/probes.mjs');
    // ioredis and pg load lazily inside the probes; make a missing install a clear message.
    await Promise.all([import('ioredis'), import('pg')]);
  } catch (err) {
    throw new LauncherError(`Cannot load ioredis/pg (${err.message}).\nInstall the dependencies first:  npm ci`);
  }
  const t0 = Date.now();
  const none = Promise.resolve(undefined);
  const [redisProbe, clusterProbe, pgProbe] = await Promise.all([
    opts.redisCluster || seeds ? none : probes.probeRedis(cfg.redis.url, { timeoutMs: 1500 }),
    seeds ? probeRedisCluster(seeds, { timeoutMs: 1500 }) : none,
    opts.replica ? none : probes.probePostgres(cfg.database.url, { timeoutMs: 1500 }),
  ]);
  throwIfStopping();
  // Start whatever is missing side by side; a failure in one still leaves the other in
  // `services`, so it is stopped on the way out.
  const [redis, database] = await Promise.allSettled([
    opts.redisCluster
      ? startCluster(services)
      : seeds
        ? useRedisCluster(cfg.redisClusterNodes, clusterProbe)
        : ensureRedis(cfg.redis, redisProbe, services),
    opts.replica ? startPrimaryAndReplica(cfg.database, services) : ensurePostgres(cfg.database, pgProbe, services),
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
  const lines = [...(await redis.value.describe()), ...(await database.value.describe())];
  lines[lines.length - 1] += `  [${formatDuration(Date.now() - t0)}]`;
  say(lines.join('\n'));
  return {
    env: { ...redis.value.env, ...database.value.env },
    describe: async () => [...(await redis.value.describe()), ...(await database.value.describe())],
  };
}

/** The apps' environment: ours, with the service endpoints; a cluster replaces REDIS_URL. */
function appEnvironment(serviceEnv) {
  const env = { ...process.env, ...serviceEnv };
  if (serviceEnv.REDIS_CLUSTER_NODES) delete env.REDIS_URL;
  return env;
}

const SERVICE_NAMES = {
  redis: 'Redis',
  postgres: 'Postgres',
  'redis-cluster': 'Redis Cluster',
  'postgres-replica': 'Postgres primary and replica',
};

async function stopServices(services) {
  for (const service of [...services].reverse()) {
    const t0 = Date.now();
    await service.stop();
    say(
      `stopped the throwaway ${SERVICE_NAMES[service.kind]} and removed ${service.dir} [${formatDuration(Date.now() - t0)}]`,
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
      prefixWidth,
      color: colorOf('db-cli'),
      format: formatLine,
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

async function checkAppPorts(instances) {
  const busy = [];
  for (const instance of instances) {
    if (!(await isPortFree(instance.port))) busy.push(instance);
  }
  if (busy.length) {
    throw new LauncherError(
      `Port${busy.length > 1 ? 's' : ''} ${busy.map((b) => `${b.port} (${b.name})`).join(', ')} ${
        busy.length > 1 ? 'are' : 'is'
      } already in use. Is another npm start or nx serve running?\nStop it first; this shows what listens there:  ss -ltnp 'sport = :${busy[0].port}'`,
    );
  }
}

/** Built apps whose bundle never mentions `variable`, so would ignore it. */
function appsIgnoring(distDir, variable) {
  return APPS.map((a) => a.name).filter((name) => {
    try {
      return !fs.readFileSync(mainJsOf(distDir, name), 'utf8').includes(variable);
    } catch {
      return false;
    }
  });
}

/** --redis-cluster and --replica hand the apps variables that older builds do not know. */
function warnAboutUnreadVariables(distDir, env) {
  if (env.REDIS_CLUSTER_NODES) {
    const deaf = appsIgnoring(distDir, 'REDIS_CLUSTER_NODES');
    if (deaf.length) {
      warn(
        `${deaf.join(', ')} never read${deaf.length === 1 ? 's' : ''} REDIS_CLUSTER_NODES: ${
          deaf.length === 1 ? 'it uses' : 'they use'
        } the default Redis (redis://127.0.0.1:6379), not the cluster.`,
      );
    }
  }
  if (env.DATABASE_REPLICA_URLS && appsIgnoring(distDir, 'DATABASE_REPLICA_URLS').length === APPS.length) {
    warn('no app reads DATABASE_REPLICA_URLS: every query goes to the primary; the replica only follows it.');
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

const baseUrl = (instance) => `http://127.0.0.1:${instance.port}`;
const readyUrl = (instance) => `${baseUrl(instance)}/health/ready`;
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until one of the gateways answers ready; false when `isOver()` first. */
async function waitForGateway(gateways, isOver) {
  const t0 = Date.now();
  let nextNote = t0 + 30_000;
  while (!isOver()) {
    const answers = await Promise.all(gateways.map((g) => httpStatus(readyUrl(g))));
    if (answers.some((a) => a.ok)) return true;
    if (Date.now() > nextNote) {
      say(
        `still waiting for ${readyUrl(gateways[0])} (last answer: ${answers[0].status}, ${formatDuration(Date.now() - t0)} so far)`,
      );
      nextNote = Date.now() + 30_000;
    }
    await pause(500);
  }
  return false;
}

/** After a restart: says when the app answers ready again, and how long it was gone. */
async function announceReadyAgain(instance, managed, downSince) {
  const deadline = Date.now() + 120_000;
  while (!shutdown.requested && !managed.exit && Date.now() < deadline) {
    if ((await httpStatus(readyUrl(instance), 1000)).ok) {
      if (!shutdown.requested && !managed.exit) {
        say(`${instance.name} is ready again, ${formatDuration(Date.now() - downSince)} after it went down`);
      }
      return;
    }
    await pause(200);
  }
}

async function printBanner(instances, serviceLines, t0) {
  const states = await Promise.all(instances.map((i) => httpStatus(readyUrl(i))));
  const width = Math.max(...instances.map((i) => i.name.length));
  const gateways = instances.filter((i) => i.app === 'gateway');
  const rule = '-'.repeat(72);
  say(
    [
      rule,
      bold(`Open ${baseUrl(gateways[0])}/?userId=1`),
      ...(gateways.length > 1
        ? [`(or any gateway replica: ${gateways.map((g) => `:${g.port}`).join(', ')}; each serves everything)`]
        : []),
      '',
      ...instances.map(
        (instance, i) =>
          `  ${instance.name.padEnd(width)}  ${readyUrl(instance)}  ${baseUrl(instance)}/metrics  ${states[i].ok ? 'ready' : `not ready yet (${states[i].status})`}`,
      ),
      '',
      ...serviceLines.map((line) => `  ${line}`),
      '',
      `Ready in ${formatDuration(Date.now() - t0)}. An app that exits is restarted; Ctrl-C stops everything.`,
      rule,
    ].join('\n'),
  );
}

async function runApps({ distDir, env, instances, services, describeServices, stopTimeoutMs, t0 }) {
  throwIfStopping();
  const supervisors = instances.map((instance) =>
    supervise({
      name: instance.name,
      spawn: () =>
        startChild(instance.name, process.execPath, [mainJsOf(distDir, instance.app)], {
          cwd: ROOT,
          env: { ...env, PORT: String(instance.port) },
          prefixWidth,
          color: colorOf(instance.app),
          format: formatLine,
        }),
      log,
      where: (managed) => `pid ${managed.pid}, :${instance.port}`,
      onStart: (managed, { restart, downSince }) => {
        if (restart > 0) announceReadyAgain(instance, managed, downSince);
      },
    }),
  );
  say(
    `started ${instances.map((instance, i) => `${instance.name} (pid ${supervisors[i].current.pid}, :${instance.port})`).join(', ')}`,
  );

  // The first of: a shutdown request, a service lost for good, every app given up on.
  let over = false;
  const firstEvent = Promise.race([
    shutdownRequested.then(() => ({ kind: 'shutdown' })),
    ...services.map((s) => s.lost.then((message) => ({ kind: 'lost', message }))),
    Promise.all(supervisors.map((s) => s.done)).then(() => ({ kind: 'all-gave-up' })),
  ]);
  firstEvent.then(() => {
    over = true;
  });
  const gateways = supervisors.filter((_, i) => instances[i].app === 'gateway');
  waitForGateway(
    instances.filter((i) => i.app === 'gateway'),
    () => over || gateways.every((s) => s.state === 'gave-up'),
  ).then(async (ready) => {
    if (ready && !over) await printBanner(instances, await describeServices(), t0);
  });

  const event = await firstEvent;
  let exitCode = 0;
  if (event.kind === 'lost') {
    warn(`${event.message}\nStopping the rest.`);
    exitCode = 1;
  } else if (event.kind === 'all-gave-up') {
    warn('The launcher has given up on every app (see above); stopping.');
    exitCode = 1;
  }

  const t1 = Date.now();
  const live = supervisors.filter((s) => s.state === 'running' || s.state === 'waiting');
  const running = live.filter((s) => s.state === 'running').map((s) => s.name);
  if (running.length) {
    say(`sending SIGTERM to ${running.join(', ')} (waiting up to ${formatDuration(stopTimeoutMs)})`);
  }
  const results = await Promise.all(live.map((s) => s.stop({ signal: 'SIGTERM', timeoutMs: stopTimeoutMs })));
  live.forEach((s, i) => {
    const result = results[i];
    if (!result) return;
    if (result.killed)
      warn(`${s.name} did not exit within ${formatDuration(stopTimeoutMs)} of SIGTERM; killed it (SIGKILL)`);
    else if (exitCode === 0 && result.code !== 0 && result.code !== null)
      warn(`${s.name} ${describeExit(result)} while stopping`);
  });
  if (running.length) say(`apps stopped [${formatDuration(Date.now() - t1)}]`);
  return exitCode;
}

async function runServicesOnly({ services, serviceEnv }) {
  say(
    [
      'services are up (--services-only):',
      ...Object.entries(serviceEnv).map(([name, value]) => `  ${name}=${value}`),
      services.length
        ? 'Ctrl-C stops the throwaway server(s) and removes their temp dirs.'
        : 'Nothing to stop: both were already running. Ctrl-C to exit.',
    ].join('\n'),
  );
  const event = await Promise.race([
    shutdownRequested.then(() => ({ kind: 'shutdown' })),
    ...services.map((s) => s.lost.then((message) => ({ kind: 'lost', message }))),
  ]);
  if (event.kind === 'lost') {
    warn(event.message);
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

  if (
    opts.servicesOnly &&
    (opts.users !== undefined || !opts.build || Object.keys(opts.scale).length > 0 || opts.logs !== undefined)
  ) {
    warn('--users, --no-build, --scale and --logs have no effect with --services-only (no app is built or run).');
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
    const instances = planInstances(APPS, opts.scale, portBase);
    if (instances.at(-1).port > 65_535) {
      throw new LauncherError(
        `${instances.length} processes from port ${portBase} need ports up to ${instances.at(-1).port}; lower WP_START_PORT_BASE.`,
      );
    }
    prefixWidth = Math.max(prefixWidth, ...instances.map((i) => i.name.length));
    const format = opts.logs ?? (process.stdout.isTTY ? 'pretty' : 'json');
    try {
      formatLine = await createLogFormatter({ format, colorize: useColor });
    } catch (err) {
      warn(`cannot load pino-pretty (${err.message}); showing the apps' JSON lines as they are. npm ci installs it.`);
    }
    if (!fs.existsSync(path.join(ROOT, 'node_modules'))) {
      throw new LauncherError('node_modules is missing. Install the dependencies first:  npm ci');
    }
    if (!opts.servicesOnly) {
      await checkAppPorts(instances);
      if (!opts.build) checkBuilt(distDir, false); // fail before starting any server
    }

    const prepared = await prepareServices(opts, services);
    throwIfStopping();
    if (opts.servicesOnly) {
      exitCode = await runServicesOnly({ services, serviceEnv: prepared.env });
    } else {
      if (opts.build) await build(stopTimeoutMs);
      else say(`--no-build: using what is in ${shownPath(distDir)}/`);
      checkBuilt(distDir, opts.build);
      const env = appEnvironment(prepared.env);
      warnAboutUnreadVariables(distDir, env);
      await runDbCli(distDir, env, opts.users, stopTimeoutMs);
      exitCode = await runApps({
        distDir,
        env,
        instances,
        services,
        describeServices: prepared.describe,
        stopTimeoutMs,
        t0,
      });
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
