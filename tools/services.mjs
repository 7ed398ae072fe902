#!/usr/bin/env node
// The launcher's throwaway services on their own, for test harnesses and people: starts one,
// prints its endpoints once it is up, keeps it running, and stops it and removes its temp dir
// on SIGTERM/SIGINT, when stdin closes, or when the process that started this one is gone.
// See USAGE below; tests in tools/services.int-spec.mjs.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describePostgresSetupProblem, findExecutable, findPostgresSetup } from './lib/binaries.mjs';
import { LauncherError, ShutdownRequested } from './lib/errors.mjs';
import { startReplicatedPostgres } from './lib/postgres-replica.mjs';
import { killAllChildrenSync } from './lib/procs.mjs';
import { startRedisCluster } from './lib/redis-cluster.mjs';
import { removeAllTempDirsSync } from './lib/services.mjs';

export const USAGE = `Usage: node tools/services.mjs <service> [--json] [--database NAME]

Starts a throwaway service on free ports of 127.0.0.1 (data in a temp dir, no persistence),
prints where it listens once it is up, and keeps it running until SIGTERM or SIGINT, until its
stdin closes (when stdin is a pipe: spawn it with stdio ['pipe', ...] and it goes when you do),
or until the process that started it exits. Then it stops the servers and removes the temp dir.
A server that dies meanwhile is restarted (a Redis Cluster master once a replica has taken over
its slots); restarts and failovers are logged on stderr.

Services:
  redis-cluster      a Redis Cluster of 3 masters and 3 replicas (redis-server, redis-cli)
  postgres-replica   a Postgres primary and one streaming replica (initdb, postgres,
                     pg_basebackup; run as the "postgres" system user when we are root)

Options:
  --json            print exactly one JSON line on stdout once up, and nothing else there;
                    on failure, {"error": "..."} and exit status 1
  --database NAME   the database the Postgres URLs name (default postgres; create your own)
  -h, --help        print this help

JSON, redis-cluster:
  {"service":"redis-cluster","env":{"REDIS_CLUSTER_NODES":"127.0.0.1:P1,..."},
   "nodes":[{"port","pid","id","role":"master"|"replica","slots":"0-5460","masterPort"?}],"dir"}
JSON, postgres-replica:
  {"service":"postgres-replica","env":{"DATABASE_URL","DATABASE_REPLICA_URLS"},
   "primary":{"url","port","pid"},"replicas":[{"url","port","pid"}],"dir"}
`;

const SERVICES = ['redis-cluster', 'postgres-replica'];

/** @returns {{ help: boolean, service?: string, json: boolean, database: string }} */
export function parseServicesArgs(argv) {
  const opts = { help: false, service: undefined, json: false, database: 'postgres' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') opts.help = true;
    else if (arg === '--json') opts.json = true;
    else if (arg === '--database' || arg.startsWith('--database=')) {
      const value = arg === '--database' ? argv[++i] : arg.slice('--database='.length);
      if (!value || !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(value)) {
        throw new LauncherError(`--database needs a name of letters, digits and _, got "${value ?? ''}"`, {
          exitCode: 2,
        });
      }
      opts.database = value;
    } else if (SERVICES.includes(arg) && !opts.service) opts.service = arg;
    else throw new LauncherError(`unexpected argument "${arg}"`, { exitCode: 2 });
  }
  if (!opts.help && !opts.service) {
    throw new LauncherError(`name a service: ${SERVICES.join(' or ')}`, { exitCode: 2 });
  }
  return opts;
}

async function start(opts, log, shouldStop) {
  if (opts.service === 'redis-cluster') {
    const redisServer = findExecutable('redis-server');
    const redisCli = findExecutable('redis-cli');
    if (!redisServer || !redisCli) {
      throw new LauncherError('redis-server and redis-cli (Redis 7+) must be on PATH: apt-get install -y redis-server');
    }
    return startRedisCluster({ redisServer, redisCli, log, shouldStop });
  }
  const setup = findPostgresSetup({ libRoot: process.env.WP_START_PG_LIB_ROOT || undefined });
  if (setup.problem) throw new LauncherError(describePostgresSetupProblem(setup));
  return startReplicatedPostgres({ bins: setup.bins, runAs: setup.runAs, database: opts.database, log, shouldStop });
}

/** What the one JSON line says about a running service. */
export async function describeService(service) {
  if (service.kind === 'redis-cluster') {
    return {
      service: 'redis-cluster',
      env: { REDIS_CLUSTER_NODES: service.seeds },
      nodes: await service.topology(),
      dir: service.dir,
    };
  }
  return {
    service: 'postgres-replica',
    env: { DATABASE_URL: service.url, DATABASE_REPLICA_URLS: service.replicaUrls.join(',') },
    primary: { url: service.url, port: service.primary.port, pid: service.primary.process.pid },
    replicas: service.replicas.map((r, i) => ({
      url: service.replicaUrls[i],
      port: r.port,
      pid: r.supervisor.current.pid,
    })),
    dir: service.dir,
  };
}

/** Is stdin something that closes when our parent goes (a pipe or socket), not a TTY or /dev/null? */
function stdinIsLifeline() {
  try {
    const stat = fs.fstatSync(0);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

async function main() {
  const err = (text) => process.stderr.write(`services: ${text}\n`);
  let opts;
  try {
    opts = parseServicesArgs(process.argv.slice(2));
  } catch (e) {
    err(`${e.message}\nRun "node tools/services.mjs --help" for usage.`);
    return e.exitCode ?? 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  let stopRequested;
  let stopping = false;
  const stopped = new Promise((resolve) => {
    stopRequested = (why) => {
      if (stopping) return;
      stopping = true;
      err(`${why}: stopping`);
      resolve();
    };
  });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => stopRequested(signal));
  if (stdinIsLifeline()) {
    process.stdin.on('end', () => stopRequested('stdin closed'));
    process.stdin.on('error', () => stopRequested('stdin closed'));
    process.stdin.resume();
  }
  // A parent killed outright closes no pipe we could notice when stdin is not one; its death
  // re-parents us, which process.ppid shows.
  const parent = process.ppid;
  const parentWatch = setInterval(() => {
    if (process.ppid !== parent) stopRequested('the parent process is gone');
  }, 1000);

  const log = { info: (text) => err(text), warn: (text) => err(text) };
  let service;
  let code = 0;
  try {
    service = await start(opts, log, () => stopping);
    if (stopping) throw new ShutdownRequested();
    const description = await describeService(service);
    if (opts.json) process.stdout.write(`${JSON.stringify(description)}\n`);
    else {
      process.stdout.write(
        `${opts.service} is up (temp dir ${service.dir}); Ctrl-C stops it.\n${Object.entries(description.env)
          .map(([k, v]) => `${k}=${v}`)
          .join('\n')}\n`,
      );
    }
    const lost = await Promise.race([stopped.then(() => undefined), service.lost]);
    if (lost) {
      err(lost);
      code = 1;
    }
  } catch (e) {
    if (!(e instanceof ShutdownRequested)) {
      const message = e instanceof LauncherError ? e.message : (e?.stack ?? String(e));
      err(message);
      if (opts.json) process.stdout.write(`${JSON.stringify({ service: opts.service, error: message })}\n`);
      code = 1;
    }
  } finally {
    clearInterval(parentWatch);
    if (service) {
      await service.stop().catch((e) => {
        err(`while stopping: ${e?.message ?? e}`);
        code ||= 1;
      });
      err(`stopped ${opts.service} and removed ${service.dir}`);
    }
  }
  return code;
}

// Whatever happens, leave no server or temp dir behind.
process.on('exit', () => {
  killAllChildrenSync();
  removeAllTempDirsSync();
});

// Run as a program (not when a test imports it for parseServicesArgs).
if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`services: internal error: ${e?.stack ?? e}\n`);
      process.exit(1);
    },
  );
}
