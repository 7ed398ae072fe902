// The launcher's throwaway services for real: a Redis Cluster and a Postgres primary with a
// streaming replica, started, checked from the outside, broken, and stopped; and the
// tools/services.mjs CLI that test harnesses spawn. Needs redis-server/redis-cli (7+) and the
// Postgres server binaries; binds 127.0.0.1 only, on free ports.
// Run: node --test tools/services.int-spec.mjs
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { Redis, Cluster } from 'ioredis';
import { findExecutable, findPostgresSetup } from './lib/binaries.mjs';
import { isPortFree } from './lib/ports.mjs';
import { startReplicatedPostgres } from './lib/postgres-replica.mjs';
import { CLUSTER_SLOTS, parseClusterNodes, parseInfo, slotCount, startRedisCluster } from './lib/redis-cluster.mjs';

const TOOLS = path.dirname(fileURLToPath(import.meta.url));
const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(condition, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function redisAt(port, fn) {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** Checks the cluster from the outside, node by node; returns CLUSTER NODES as parsed. */
async function assertClusterWhole(ports) {
  for (const port of ports) {
    const info = parseInfo(await redisAt(port, (c) => c.call('CLUSTER', 'INFO')));
    assert.equal(info.cluster_state, 'ok', `cluster_state on :${port}`);
    assert.equal(info.cluster_known_nodes, '6', `nodes known to :${port}`);
  }
  const nodes = parseClusterNodes(await redisAt(ports[0], (c) => c.call('CLUSTER', 'NODES')));
  const masters = nodes.filter((n) => n.role === 'master' && !n.failing);
  const replicas = nodes.filter((n) => n.role === 'replica' && !n.failing);
  assert.equal(masters.length, 3, 'three masters');
  assert.equal(replicas.length, 3, 'three replicas');
  for (const master of masters) assert.ok(slotCount(master) > 0, `master :${master.port} owns slots`);
  assert.equal(
    masters.reduce((n, m) => n + slotCount(m), 0),
    CLUSTER_SLOTS,
    'every slot has a master',
  );
  assert.deepEqual(
    new Set(replicas.map((r) => r.masterId)),
    new Set(masters.map((m) => m.id)),
    'each master has a replica of its own',
  );
  return nodes;
}

function startCli(args, env = {}) {
  const child = spawn(process.execPath, [path.join(TOOLS, 'services.mjs'), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const stderr = [];
  child.stderr.on('data', (d) => stderr.push(d.toString()));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const firstLine = new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', resolve);
    exited.then(() => reject(new Error(`services.mjs exited before printing: ${stderr.join('')}`)));
  });
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  });
  return { child, firstLine, exited, stderr };
}

const redisServer = findExecutable('redis-server');
const redisCli = findExecutable('redis-cli');
const pgSetup = findPostgresSetup();

describe('Redis Cluster', { skip: !redisServer || !redisCli ? 'redis-server/redis-cli not installed' : false }, () => {
  test('3 masters with slots, 3 replicas, cluster_state:ok on every node; a killed master fails over and its node rejoins; stop() removes everything', async () => {
    const lines = [];
    const log = { info: (t) => lines.push(t), warn: (t) => lines.push(t) };
    const cluster = await startRedisCluster({ redisServer, redisCli, log });
    cleanups.push(() => cluster.stop());
    const ports = cluster.nodes.map((n) => n.port);
    assert.equal(cluster.seeds, ports.map((p) => `127.0.0.1:${p}`).join(','));
    await assertClusterWhole(ports);

    // A cluster client spreads keys over every master.
    const client = new Cluster([{ host: '127.0.0.1', port: ports[0] }]);
    client.on('error', () => undefined);
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => client.set(`key:${i}`, String(i))));
      assert.equal(await client.get('key:299'), '299');
      const topology = await cluster.topology();
      for (const master of topology.filter((n) => n.role === 'master')) {
        const keys = await redisAt(master.port, (c) => c.dbsize());
        assert.ok(keys > 0, `master :${master.port} holds keys`);
      }

      // SIGKILL a master: its replica takes over, the supervisor brings the node back as a replica.
      const victim = topology.find((n) => n.role === 'master');
      const heir = topology.find((n) => n.masterPort === victim.port);
      process.kill(victim.pid, 'SIGKILL');
      await until(async () => {
        const now = await cluster.topology();
        const node = now.find((n) => n.port === victim.port);
        return node.role === 'replica' && node.pid && node.pid !== victim.pid && node.masterPort === heir.port;
      }, 'the killed master to come back as a replica of its heir');
      await until(async () => {
        try {
          await assertClusterWhole(ports);
          return true;
        } catch {
          return false;
        }
      }, 'the cluster to be whole again');
      assert.equal(await client.get('key:299'), '299', 'keys survive the failover');
      assert.ok(lines.some((l) => l.includes(`redis node :${victim.port} was killed by SIGKILL`)));
      assert.ok(lines.some((l) => l.includes('waiting for a replica to take over its slots first')));
      assert.ok(lines.some((l) => /a replica took over its slots after/.test(l)));
    } finally {
      client.disconnect();
    }

    const pids = (await cluster.topology()).map((n) => n.pid);
    await cluster.stop();
    assert.equal(fs.existsSync(cluster.dir), false, 'temp dir removed');
    for (const pid of pids) assert.equal(alive(pid), false, `node pid ${pid} gone`);
    for (const port of ports) assert.equal(await isPortFree(port, '127.0.0.1'), true, `:${port} free again`);
  });

  test('tools/services.mjs redis-cluster --json: one JSON line once up; closing stdin stops it and cleans up', async () => {
    const cli = startCli(['redis-cluster', '--json']);
    const up = JSON.parse(await cli.firstLine);
    assert.equal(up.service, 'redis-cluster');
    const ports = up.nodes.map((n) => n.port);
    assert.equal(up.env.REDIS_CLUSTER_NODES, ports.map((p) => `127.0.0.1:${p}`).join(','));
    assert.deepEqual(up.nodes.map((n) => n.role).sort(), [
      'master',
      'master',
      'master',
      'replica',
      'replica',
      'replica',
    ]);
    for (const node of up.nodes.filter((n) => n.role === 'master')) assert.match(node.slots, /^\d+-\d+$/);
    await assertClusterWhole(ports);
    assert.equal(fs.existsSync(up.dir), true);

    cli.child.stdin.end();
    assert.deepEqual(await cli.exited, { code: 0, signal: null });
    assert.equal(fs.existsSync(up.dir), false, 'temp dir removed');
    for (const node of up.nodes) assert.equal(alive(node.pid), false, `node pid ${node.pid} gone`);
    assert.match(cli.stderr.join(''), /stdin closed: stopping/);
  });
});

describe('Postgres primary and streaming replica', { skip: pgSetup.problem ? pgSetup.problem : false }, () => {
  test('the replica streams the primary, answers reads, refuses writes, comes back when killed; stop() removes everything', async () => {
    const lines = [];
    const log = { info: (t) => lines.push(t), warn: (t) => lines.push(t) };
    const service = await startReplicatedPostgres({
      bins: pgSetup.bins,
      runAs: pgSetup.runAs,
      database: 'postgres',
      log,
    });
    cleanups.push(() => service.stop());
    assert.equal(service.replicaUrls.length, 1);
    const primary = new pg.Client(service.url);
    await primary.connect();
    const replicaQuery = async (sql, params) => {
      const client = new pg.Client(service.replicaUrls[0]);
      await client.connect();
      try {
        return await client.query(sql, params);
      } finally {
        await client.end();
      }
    };
    const caughtUp = (lsn) => async () =>
      (await replicaQuery('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn])).rows[0].ok;
    try {
      assert.equal((await primary.query('SELECT pg_is_in_recovery() AS r')).rows[0].r, false);
      assert.equal((await replicaQuery('SELECT pg_is_in_recovery() AS r')).rows[0].r, true);
      assert.equal((await replicaQuery('SELECT status FROM pg_stat_wal_receiver')).rows[0].status, 'streaming');

      await primary.query('CREATE TABLE probe (x int)');
      await primary.query('INSERT INTO probe VALUES (42)');
      // Commits wait for their WAL on this primary, so the position read after a commit covers it.
      let lsn = (await primary.query('SELECT pg_current_wal_lsn() AS lsn')).rows[0].lsn;
      await until(caughtUp(lsn), 'the replica to replay the insert');
      assert.deepEqual((await replicaQuery('SELECT x FROM probe')).rows, [{ x: 42 }]);
      await assert.rejects(replicaQuery('INSERT INTO probe VALUES (1)'), (err) => err.code === '25006');

      const supervisor = service.replicas[0].supervisor;
      const killed = supervisor.current.pid;
      process.kill(killed, 'SIGKILL');
      await until(() => supervisor.restarts === 1, 'the replica restart');
      await primary.query('INSERT INTO probe VALUES (43)');
      lsn = (await primary.query('SELECT pg_current_wal_lsn() AS lsn')).rows[0].lsn;
      await until(async () => {
        try {
          return await caughtUp(lsn)();
        } catch {
          return false; // still starting
        }
      }, 'the restarted replica to catch up');
      assert.deepEqual((await replicaQuery('SELECT x FROM probe ORDER BY x')).rows, [{ x: 42 }, { x: 43 }]);
      assert.ok(lines.some((l) => l.startsWith(`postgres replica :${service.replicas[0].port} was killed by SIGKILL`)));
    } finally {
      await primary.end();
    }

    const pids = [service.primary.process.pid, service.replicas[0].supervisor.current.pid];
    await service.stop();
    assert.equal(fs.existsSync(service.dir), false, 'temp dir removed');
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} gone`);
  });

  test('tools/services.mjs postgres-replica --json --database: endpoints once up; SIGTERM stops it and cleans up', async () => {
    const cli = startCli(['postgres-replica', '--json', '--database', 'wp_services_spec']);
    const up = JSON.parse(await cli.firstLine);
    assert.equal(up.service, 'postgres-replica');
    assert.equal(up.env.DATABASE_URL, up.primary.url);
    assert.equal(up.env.DATABASE_REPLICA_URLS, up.replicas[0].url);
    assert.match(up.primary.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/wp_services_spec$/);
    // The database is the caller's to create, on the primary; the replica follows.
    const admin = new pg.Client(up.primary.url.replace(/wp_services_spec$/, 'postgres'));
    await admin.connect();
    await admin.query('CREATE DATABASE wp_services_spec');
    await admin.end();
    const replica = await until(async () => {
      const client = new pg.Client(up.replicas[0].url); // a pg.Client connects once
      try {
        await client.connect();
        return client;
      } catch {
        return undefined;
      }
    }, 'the new database on the replica');
    assert.equal((await replica.query('SELECT pg_is_in_recovery() AS r')).rows[0].r, true);
    await replica.end();

    cli.child.kill('SIGTERM');
    assert.deepEqual(await cli.exited, { code: 0, signal: null });
    assert.equal(fs.existsSync(up.dir), false, 'temp dir removed');
    assert.equal(alive(up.primary.pid), false);
    assert.equal(alive(up.replicas[0].pid), false);
  });

  test('tools/services.mjs stops and cleans up when the process that started it dies outright', async () => {
    // A parent that is SIGKILLed closes no stdin pipe (here stdin is /dev/null): the CLI notices
    // it has been re-parented.
    const parent = spawn(
      process.execPath,
      [
        '-e',
        `require('node:child_process').spawn(process.execPath, [${JSON.stringify(path.join(TOOLS, 'services.mjs'))}, 'postgres-replica', '--json'], { stdio: ['ignore', 'inherit', 'inherit'] }); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const stderr = [];
    parent.stderr.on('data', (d) => stderr.push(d.toString()));
    const up = JSON.parse(
      await new Promise((resolve) => createInterface({ input: parent.stdout }).once('line', resolve)),
    );
    assert.equal(alive(up.primary.pid), true);
    parent.kill('SIGKILL');
    await until(() => !fs.existsSync(up.dir) && !alive(up.primary.pid) && !alive(up.replicas[0].pid), 'the cleanup');
    await until(() => stderr.join('').includes('the parent process is gone: stopping'), 'the reason on stderr', 5000);
  });
});
