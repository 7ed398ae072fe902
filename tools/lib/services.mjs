// Throwaway local Redis and Postgres servers: started in a fresh temp dir on a free port,
// listening on 127.0.0.1 only, keeping nothing, and removed again by stop(). The building blocks
// here (spawning one redis-server or postgres, initdb) are shared with the Redis Cluster and the
// replicated Postgres (redis-cluster.mjs, postgres-replica.mjs).
//
// Every service has the same shape: { kind, dir, stop(), lost, ... }. `lost` settles with a
// message when the service died in a way nothing here repairs (it never settles after stop()).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { localDatabaseUrl, localRedisUrl } from './config.mjs';
import { LauncherError, ShutdownRequested } from './errors.mjs';
import { findFreePort } from './ports.mjs';
import { probePostgres, probeRedis, waitUntilReachable } from './probes.mjs';
import { describeExit, startChild } from './procs.mjs';

/** Temp dirs still on disk, so that an unexpected launcher exit can still remove them. */
export const liveTempDirs = new Set();

export function removeTempDirSync(dir) {
  try {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    /* best effort */
  }
  liveTempDirs.delete(dir);
}

export function removeAllTempDirsSync() {
  for (const dir of [...liveTempDirs]) removeTempDirSync(dir);
}

export function makeTempDir(prefix, base = os.tmpdir()) {
  const dir = fs.mkdtempSync(path.join(base, prefix));
  liveTempDirs.add(dir);
  return dir;
}

export function lastLines(managed, n = 25) {
  const lines = managed.tail().slice(-n);
  return lines.length ? `\n  ${lines.join('\n  ')}` : ' (it printed nothing)';
}

export const PORT_IN_USE = /address already in use|could not bind|could not create listen socket/i;

/** A promise for `lost`: settles with message(info) when `managed` exits, unless isStopping(). */
export function lostWhenExits(managed, isStopping, message) {
  return new Promise((resolve) => {
    managed.exited.then((info) => {
      if (!isStopping()) resolve(message(info));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Redis

/** redis-server's arguments: 127.0.0.1 only, no persistence, log to stdout (kept in memory). */
export function redisServerArgs({ port, dir, extra = [] }) {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    // "" logs to stdout, which is kept in memory and shown only on failure.
    '--logfile',
    '',
    ...extra,
  ];
}

/**
 * Starts `redis-server` on a free port in a temp dir and waits until it answers PING.
 * @returns {Promise<{ kind: 'redis', url: string, port: number, dir: string, process, lost: Promise<string>, stop(): Promise<void> }>}
 */
export async function startThrowawayRedis({ redisServer, shouldStop = () => false }) {
  const dir = makeTempDir('wp-start-redis-');
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await findFreePort();
      const url = localRedisUrl(port);
      const proc = startChild('redis', redisServer, redisServerArgs({ port, dir }), { cwd: dir, output: 'capture' });
      const ready = await waitUntilReachable(() => probeRedis(url, { timeoutMs: 500 }), {
        timeoutMs: 15_000,
        intervalMs: 100,
        shouldStop: () => Boolean(proc.exit) || shouldStop(),
      });
      if (ready.ok) {
        let stopping = false;
        return {
          kind: 'redis',
          url,
          port,
          dir,
          process: proc,
          lost: lostWhenExits(
            proc,
            () => stopping,
            (info) => `the throwaway Redis ${describeExit(info)} unexpectedly. Its last output:${lastLines(proc, 20)}`,
          ),
          async stop() {
            stopping = true;
            // No persistence, so SIGTERM shuts it down at once.
            await proc.stop({ signal: 'SIGTERM', timeoutMs: 10_000 });
            removeTempDirSync(dir);
          },
        };
      }
      await proc.stop({ signal: 'SIGTERM', timeoutMs: 5_000 });
      if (shouldStop()) throw new ShutdownRequested();
      const log = proc.tail().join('\n');
      if (PORT_IN_USE.test(log) && attempt < 3) continue; // lost the race for the port
      throw new LauncherError(
        `Started a throwaway Redis (${redisServer} on port ${port}), but it ${
          proc.exit ? describeExit(proc.exit) : `did not answer PING (${ready.reason})`
        }. Its output:${lastLines(proc)}`,
      );
    }
  } catch (err) {
    removeTempDirSync(dir);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Postgres

/** Environment for initdb/postgres: ours, minus the PG* variables that would redirect them. */
function postgresEnv(runAs) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^PG/.test(k)) env[k] = v;
  }
  if (runAs) {
    env.USER = runAs.name;
    env.LOGNAME = runAs.name;
    env.HOME = runAs.home || '/';
  }
  return env;
}

/**
 * Runs a Postgres tool (initdb, pg_basebackup) to completion, as `runAs` when given (we are
 * root; initdb refuses to run as root). Throws a LauncherError with its output when it fails.
 */
export async function runPostgresTool({ what, command, args, runAs, cwd, shouldStop = () => false }) {
  const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  const tool = startChild('postgres', command, args, { cwd, env: postgresEnv(runAs), output: 'capture', ...ids });
  const info = await tool.exited;
  if (shouldStop()) throw new ShutdownRequested();
  if (info.code !== 0) {
    throw new LauncherError(
      `Tried to ${what} with ${command}${runAs ? ` as user ${runAs.name}` : ''}, but it ${describeExit(info)}. Its output:${lastLines(tool)}`,
    );
  }
}

/** A new cluster in `dataDir`: trust auth, superuser "postgres". */
export function initPostgres({ bins, runAs, dataDir, cwd, shouldStop }) {
  return runPostgresTool({
    what: 'create a throwaway Postgres cluster',
    command: bins.initdb,
    args: ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'],
    runAs,
    cwd,
    shouldStop,
  });
}

/** `postgres` on 127.0.0.1:port with its socket in socketDir; throwaway data, so no fsync. */
export function postgresServerArgs({ dataDir, port, socketDir, extra = [] }) {
  return [
    '-D',
    dataDir,
    '-p',
    String(port),
    '-k',
    socketDir,
    '-c',
    'listen_addresses=127.0.0.1',
    // Throwaway data: trade durability for speed.
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    ...extra,
  ];
}

/**
 * Spawns `postgres` (as `runAs` when given: setuid/setgid in the spawned process, so the
 * postmaster itself is our direct child and gets our signals). Does not wait for it.
 */
export function spawnPostgres({ bins, runAs, dataDir, port, socketDir, extra, name = 'postgres' }) {
  const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  return startChild(name, bins.postgres, postgresServerArgs({ dataDir, port, socketDir, extra }), {
    cwd: socketDir,
    env: postgresEnv(runAs),
    output: 'capture',
    ...ids,
  });
}

/** SIGINT = "fast" shutdown: disconnects clients, exits cleanly. */
export const stopPostgres = (managed, timeoutMs = 15_000) => managed.stop({ signal: 'SIGINT', timeoutMs });

/**
 * Runs `postgres` on a free port (a few tries when another process wins the race for it) and
 * waits until it accepts connections and `check` (a probe check, optional) passes.
 * @returns {Promise<{ port: number, process }>}
 */
export async function startPostgresOnFreePort({
  bins,
  runAs,
  dataDir,
  socketDir,
  extra,
  name,
  check,
  timeoutMs = 30_000,
  shouldStop = () => false,
}) {
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    const proc = spawnPostgres({ bins, runAs, dataDir, port, socketDir, extra, name });
    const ready = await waitUntilReachable(
      () => probePostgres(localDatabaseUrl(port, 'postgres'), { timeoutMs: 1000, check }),
      { timeoutMs, intervalMs: 200, shouldStop: () => Boolean(proc.exit) || shouldStop() },
    );
    if (ready.ok) return { port, process: proc };
    await stopPostgres(proc, 10_000);
    if (shouldStop()) throw new ShutdownRequested();
    const log = proc.tail().join('\n');
    if (PORT_IN_USE.test(log) && attempt < 3) continue;
    throw new LauncherError(
      `Started a throwaway Postgres (${bins.postgres} on port ${port}${runAs ? `, as user ${runAs.name}` : ''}), but it ${
        proc.exit ? describeExit(proc.exit) : `did not get ready (${ready.reason})`
      }. Its output:${lastLines(proc)}`,
    );
  }
}

/**
 * A temp dir for Postgres data: under /tmp when the server runs as another user (/tmp is
 * world-traversable, TMPDIR may not be), handed to that user.
 */
export function makePostgresTempDir(prefix, runAs) {
  const dir = makeTempDir(prefix, runAs ? '/tmp' : os.tmpdir());
  if (runAs) fs.chownSync(dir, runAs.uid, runAs.gid);
  return dir;
}

/**
 * Creates a cluster with initdb in a temp dir and runs `postgres` on a free port.
 * @param {{ bins: { initdb: string, postgres: string }, runAs?: { name: string, uid: number, gid: number, home?: string }, database: string }} opts
 */
export async function startThrowawayPostgres({ bins, runAs, database, shouldStop = () => false }) {
  const dir = makePostgresTempDir('wp-start-pg-', runAs);
  const dataDir = path.join(dir, 'data');
  try {
    await initPostgres({ bins, runAs, dataDir, cwd: dir, shouldStop });
    const { port, process: proc } = await startPostgresOnFreePort({
      bins,
      runAs,
      dataDir,
      socketDir: dir,
      shouldStop,
    });
    let stopping = false;
    return {
      kind: 'postgres',
      url: localDatabaseUrl(port, database),
      port,
      dir,
      process: proc,
      lost: lostWhenExits(
        proc,
        () => stopping,
        (info) => `the throwaway Postgres ${describeExit(info)} unexpectedly. Its last output:${lastLines(proc, 20)}`,
      ),
      async stop() {
        stopping = true;
        await stopPostgres(proc);
        removeTempDirSync(dir);
      },
    };
  } catch (err) {
    removeTempDirSync(dir);
    throw err;
  }
}
