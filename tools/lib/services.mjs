// Throwaway local Redis and Postgres servers: started in a fresh temp dir on a free port,
// listening on 127.0.0.1 only, keeping nothing, and removed again by stop().
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

function makeTempDir(prefix, base = os.tmpdir()) {
  const dir = fs.mkdtempSync(path.join(base, prefix));
  liveTempDirs.add(dir);
  return dir;
}

function lastLines(managed, n = 25) {
  const lines = managed.tail().slice(-n);
  return lines.length ? `\n  ${lines.join('\n  ')}` : ' (it printed nothing)';
}

const PORT_IN_USE = /address already in use|could not bind|could not create listen socket/i;

/**
 * Starts `redis-server` on a free port in a temp dir and waits until it answers PING.
 * @returns {Promise<{ kind: 'redis', url: string, port: number, dir: string, process, stop(): Promise<void> }>}
 */
export async function startThrowawayRedis({ redisServer, shouldStop = () => false }) {
  const dir = makeTempDir('wp-start-redis-');
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await findFreePort();
      const url = localRedisUrl(port);
      const proc = startChild(
        'redis',
        redisServer,
        // --logfile "" logs to stdout, which we keep in memory and show only on failure.
        [
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
          '--logfile',
          '',
        ],
        { cwd: dir, output: 'capture' },
      );
      const ready = await waitUntilReachable(() => probeRedis(url, { timeoutMs: 500 }), {
        timeoutMs: 15_000,
        intervalMs: 100,
        shouldStop: () => Boolean(proc.exit) || shouldStop(),
      });
      if (ready.ok) {
        return {
          kind: 'redis',
          url,
          port,
          dir,
          process: proc,
          async stop() {
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
 * Creates a cluster with initdb (trust auth, superuser "postgres") in a temp dir and runs
 * `postgres` on a free port, listening on 127.0.0.1 with its socket in the temp dir.
 * When `runAs` is given (we are root; initdb refuses to run as root), both run as that user
 * (setuid/setgid in the spawned process, so the postmaster itself is our direct child and gets
 * our signals), and the temp dir is handed to that user.
 * @param {{ bins: { initdb: string, postgres: string }, runAs?: { name: string, uid: number, gid: number, home?: string }, database: string }} opts
 */
export async function startThrowawayPostgres({ bins, runAs, database, shouldStop = () => false }) {
  // A user other than us must be able to reach the dir: /tmp is world-traversable, TMPDIR may not be.
  const dir = makeTempDir('wp-start-pg-', runAs ? '/tmp' : os.tmpdir());
  const dataDir = path.join(dir, 'data');
  const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};
  const env = postgresEnv(runAs);
  try {
    if (runAs) fs.chownSync(dir, runAs.uid, runAs.gid);

    const initdb = startChild(
      'postgres',
      bins.initdb,
      ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'],
      { cwd: dir, env, output: 'capture', ...ids },
    );
    const initExit = await initdb.exited;
    if (shouldStop()) throw new ShutdownRequested();
    if (initExit.code !== 0) {
      throw new LauncherError(
        `Tried to create a throwaway Postgres cluster with ${bins.initdb}${runAs ? ` as user ${runAs.name}` : ''}, but initdb ${describeExit(initExit)}. Its output:${lastLines(initdb)}`,
      );
    }

    for (let attempt = 1; ; attempt++) {
      const port = await findFreePort();
      const url = localDatabaseUrl(port, database);
      const proc = startChild(
        'postgres',
        bins.postgres,
        [
          '-D',
          dataDir,
          '-p',
          String(port),
          '-k',
          dir,
          '-c',
          'listen_addresses=127.0.0.1',
          // Throwaway data: trade durability for speed.
          '-c',
          'fsync=off',
          '-c',
          'synchronous_commit=off',
          '-c',
          'full_page_writes=off',
        ],
        { cwd: dir, env, output: 'capture', ...ids },
      );
      const ready = await waitUntilReachable(() => probePostgres(url, { timeoutMs: 1000 }), {
        timeoutMs: 30_000,
        intervalMs: 200,
        shouldStop: () => Boolean(proc.exit) || shouldStop(),
      });
      if (ready.ok) {
        return {
          kind: 'postgres',
          url,
          port,
          dir,
          process: proc,
          async stop() {
            // SIGINT = "fast" shutdown: disconnects clients, exits cleanly.
            await proc.stop({ signal: 'SIGINT', timeoutMs: 15_000 });
            removeTempDirSync(dir);
          },
        };
      }
      await proc.stop({ signal: 'SIGINT', timeoutMs: 10_000 });
      if (shouldStop()) throw new ShutdownRequested();
      const log = proc.tail().join('\n');
      if (PORT_IN_USE.test(log) && attempt < 3) continue;
      throw new LauncherError(
        `Started a throwaway Postgres (${bins.postgres} on port ${port}${runAs ? `, as user ${runAs.name}` : ''}), but it ${
          proc.exit ? describeExit(proc.exit) : `did not accept connections (${ready.reason})`
        }. Its output:${lastLines(proc)}`,
      );
    }
  } catch (err) {
    removeTempDirSync(dir);
    throw err;
  }
}
