// A throwaway Postgres primary with one streaming replica, in one temp dir, 127.0.0.1 only:
// initdb and postgres for the primary, `pg_basebackup -R -X stream` from it for the replica,
// then a second postgres on the copy (hot_standby: it answers reads). Ready once the replica
// streams from the primary. The replica is supervised (restarted on its port and data dir,
// where it resumes streaming); losing the primary is `lost`, as with a single throwaway
// Postgres.
import path from 'node:path';
import { localDatabaseUrl } from './config.mjs';
import { LauncherError } from './errors.mjs';
import { checkFailed } from './probes.mjs';
import {
  initPostgres,
  lastLines,
  lostWhenExits,
  makePostgresTempDir,
  removeTempDirSync,
  runPostgresTool,
  spawnPostgres,
  startPostgresOnFreePort,
  stopPostgres,
} from './services.mjs';
import { describeExit } from './procs.mjs';
import { supervise } from './supervisor.mjs';

// Room for the replica's walsender plus a pg_basebackup or a second replica a test adds. And
// commits that wait for their WAL again (the single throwaway server turns that off for speed):
// after an asynchronous commit, pg_current_wal_lsn() can still be short of the commit record,
// and a freshness fence built on it would let a replica that lacks the write look fresh.
const PRIMARY_SETTINGS = [
  '-c',
  'wal_level=replica',
  '-c',
  'max_wal_senders=10',
  '-c',
  'max_replication_slots=10',
  '-c',
  'synchronous_commit=on',
];
const REPLICA_SETTINGS = ['-c', 'hot_standby=on', '-c', 'hot_standby_feedback=on'];

/** A probe check: this server is a standby and its WAL receiver is streaming. */
export async function checkStreaming(client) {
  const { rows } = await client.query(
    'SELECT pg_is_in_recovery() AS standby, (SELECT status FROM pg_stat_wal_receiver) AS status',
  );
  if (!rows[0].standby) throw checkFailed('not in recovery: it is no replica');
  if (rows[0].status !== 'streaming') throw checkFailed(`WAL receiver ${rows[0].status ?? 'not running'}`);
}

/**
 * @param {object} opts
 * @param {{ initdb: string, postgres: string, pgBasebackup: string }} opts.bins
 * @param {{ name: string, uid: number, gid: number, home?: string }} [opts.runAs] when we are root
 * @param {string} opts.database the database name the URLs point at (created by whoever uses them)
 * @param {{ info(text: string): void, warn(text: string): void }} opts.log replica restarts
 * @returns {Promise<{ kind: 'postgres-replica', dir: string, url: string, replicaUrls: string[],
 *   primary: { port: number, dataDir: string, process }, replicas: { port: number, dataDir: string, supervisor }[],
 *   lost: Promise<string>, stop(): Promise<void> }>}
 */
export async function startReplicatedPostgres({ bins, runAs, database, log, shouldStop = () => false }) {
  if (!bins.pgBasebackup) {
    throw new LauncherError(`There is no pg_basebackup next to ${bins.postgres}; it makes the replica.`);
  }
  const dir = makePostgresTempDir('wp-start-pg-replica-', runAs);
  const primaryDir = path.join(dir, 'primary');
  const replicaDir = path.join(dir, 'replica');
  let primary;
  let replica;
  try {
    await initPostgres({ bins, runAs, dataDir: primaryDir, cwd: dir, shouldStop });
    primary = await startPostgresOnFreePort({
      bins,
      runAs,
      dataDir: primaryDir,
      socketDir: dir,
      extra: PRIMARY_SETTINGS,
      name: 'postgres-primary',
      shouldStop,
    });
    await runPostgresTool({
      what: 'copy the primary for a streaming replica',
      command: bins.pgBasebackup,
      // -R writes standby.signal and primary_conninfo; -X stream brings the WAL of the copy along.
      args: [
        '-h',
        '127.0.0.1',
        '-p',
        String(primary.port),
        '-U',
        'postgres',
        '-D',
        replicaDir,
        '-R',
        '-X',
        'stream',
        '--checkpoint=fast',
        '--no-sync',
      ],
      runAs,
      cwd: dir,
      shouldStop,
    });
    replica = await startPostgresOnFreePort({
      bins,
      runAs,
      dataDir: replicaDir,
      socketDir: dir,
      extra: REPLICA_SETTINGS,
      name: 'postgres-replica',
      check: checkStreaming,
      shouldStop,
    });
  } catch (err) {
    if (replica) await stopPostgres(replica.process);
    if (primary) await stopPostgres(primary.process);
    removeTempDirSync(dir);
    throw err;
  }

  const replicaSupervisor = supervise({
    name: `postgres replica :${replica.port}`,
    initial: replica.process,
    spawn: () =>
      spawnPostgres({
        bins,
        runAs,
        dataDir: replicaDir,
        port: replica.port,
        socketDir: dir,
        extra: REPLICA_SETTINGS,
        name: 'postgres-replica',
      }),
    log,
  });
  let stopping = false;
  return {
    kind: 'postgres-replica',
    dir,
    url: localDatabaseUrl(primary.port, database),
    replicaUrls: [localDatabaseUrl(replica.port, database)],
    primary: { port: primary.port, dataDir: primaryDir, process: primary.process },
    replicas: [{ port: replica.port, dataDir: replicaDir, supervisor: replicaSupervisor }],
    lost: lostWhenExits(
      primary.process,
      () => stopping,
      (info) =>
        `the throwaway Postgres primary ${describeExit(info)} unexpectedly. Its last output:${lastLines(primary.process, 20)}`,
    ),
    async stop() {
      stopping = true;
      // The replica first: stopped after its primary, it would log reconnect attempts.
      await replicaSupervisor.stop({ signal: 'SIGINT', timeoutMs: 15_000 });
      await stopPostgres(primary.process);
      removeTempDirSync(dir);
    },
  };
}
