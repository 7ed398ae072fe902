// A throwaway local Redis Cluster: 3 masters and 3 replicas on free ports, in one temp dir,
// 127.0.0.1 only, no persistence. Created with `redis-cli --cluster create`, then checked node
// by node until every node reports cluster_state:ok, knows all the others and every replica is
// in sync. Nodes are supervised: a node that dies is restarted on its port with its nodes.conf,
// so it rejoins. A master is restarted only once a replica has taken over its slots: back
// before its failover, it would come back empty and still the owner of its slots.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDuration, localRedisUrl } from './config.mjs';
import { LauncherError, ShutdownRequested } from './errors.mjs';
import { findFreePort } from './ports.mjs';
import { checkFailed, probeRedis, waitUntilReachable } from './probes.mjs';
import { describeExit, startChild } from './procs.mjs';
import { PORT_IN_USE, lastLines, makeTempDir, redisServerArgs, removeTempDirSync } from './services.mjs';
import { supervise } from './supervisor.mjs';

export const CLUSTER_SLOTS = 16_384;

/** redis-server's arguments for one cluster node living in `dir`. */
export function clusterNodeArgs({ port, busPort, dir, nodeTimeoutMs }) {
  return redisServerArgs({
    port,
    dir,
    extra: [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      path.join(dir, 'nodes.conf'),
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
      // The bus port is port + 10000 by default, which may be taken or above 65535.
      '--cluster-port',
      String(busPort),
    ],
  });
}

/** `key:value` lines (INFO, CLUSTER INFO) → { key: value }. */
export function parseInfo(text) {
  const info = {};
  for (const line of String(text).split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) info[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return info;
}

/**
 * CLUSTER NODES → one entry per node:
 * { id, host, port, busPort, flags: string[], role: 'master' | 'replica', masterId?, failing,
 *   connected, slots: [from, to][] }. Slots being migrated ("[...]") are left out.
 */
export function parseClusterNodes(text) {
  const nodes = [];
  for (const line of String(text).split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8) continue;
    const [id, address, flagList, master, , , , linkState, ...slotFields] = fields;
    const match = /^(.*):(\d+)@(\d+)/.exec(address);
    const flags = flagList.split(',');
    const slots = [];
    for (const field of slotFields) {
      if (field.startsWith('[')) continue;
      const [from, to = from] = field.split('-').map(Number);
      slots.push([from, to]);
    }
    nodes.push({
      id,
      host: match?.[1] ?? '',
      port: match ? Number(match[2]) : 0,
      busPort: match ? Number(match[3]) : 0,
      flags,
      role: flags.includes('master') ? 'master' : 'replica',
      masterId: master === '-' ? undefined : master,
      failing: flags.includes('fail') || flags.includes('fail?'),
      connected: linkState === 'connected',
      slots,
    });
  }
  return nodes;
}

/** How many slots a CLUSTER NODES entry owns. */
export const slotCount = (entry) => entry.slots.reduce((n, [from, to]) => n + to - from + 1, 0);

/** `0-5460,10923` */
export const formatSlots = (slots) => slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');

/**
 * Is the cluster, seen from one node, whole? cluster_state:ok, every node known, every slot
 * owned, and this node, when a replica, in sync with its master. Throws checkFailed otherwise.
 * @returns {Promise<{ id: string }>} the node's id
 */
async function checkNode(client, expectedNodes) {
  const info = parseInfo(await client.call('CLUSTER', 'INFO'));
  if (info.cluster_state !== 'ok') throw checkFailed(`cluster_state:${info.cluster_state ?? '?'}`);
  if (Number(info.cluster_known_nodes) !== expectedNodes) {
    throw checkFailed(`knows ${info.cluster_known_nodes} of ${expectedNodes} nodes`);
  }
  if (Number(info.cluster_slots_assigned) !== CLUSTER_SLOTS) {
    throw checkFailed(`${info.cluster_slots_assigned} of ${CLUSTER_SLOTS} slots assigned`);
  }
  const role = await client.call('ROLE');
  if (role[0] === 'slave' && role[3] !== 'connected') throw checkFailed(`replica link ${role[3]}`);
  return { id: await client.call('CLUSTER', 'MYID') };
}

/** `count` different free ports (the OS may hand out the same one twice in a row). */
async function distinctFreePorts(count) {
  const ports = new Set();
  while (ports.size < count) ports.add(await findFreePort());
  return [...ports];
}

/**
 * @param {object} opts
 * @param {string} opts.redisServer path of redis-server
 * @param {string} opts.redisCli path of redis-cli
 * @param {{ info(text: string): void, warn(text: string): void }} opts.log restarts and failovers
 * @param {() => boolean} [opts.shouldStop]
 * @returns {Promise<{ kind: 'redis-cluster', dir: string, seeds: string, nodes: object[],
 *   topology(): Promise<object[]>, lost: Promise<string>, stop(): Promise<void> }>}
 *   `seeds` is the REDIS_CLUSTER_NODES value; `nodes` are { port, busPort, dir, id, supervisor }.
 */
export async function startRedisCluster({
  redisServer,
  redisCli,
  log,
  shouldStop = () => false,
  masters = 3,
  replicasPerMaster = 1,
  nodeTimeoutMs = 2000,
}) {
  const count = masters * (1 + replicasPerMaster);
  const dir = makeTempDir('wp-redis-cluster-');
  let nodes = [];
  let procs = [];
  const stopProcs = () => Promise.all(procs.map((p) => p.stop({ signal: 'SIGTERM', timeoutMs: 5_000 })));
  try {
    for (let attempt = 1; ; attempt++) {
      const ports = await distinctFreePorts(count * 2);
      nodes = ports.slice(0, count).map((port, i) => ({
        port,
        busPort: ports[count + i],
        dir: path.join(dir, String(port)),
        url: localRedisUrl(port),
      }));
      for (const node of nodes) fs.mkdirSync(node.dir);
      procs = nodes.map((node) =>
        startChild(`redis:${node.port}`, redisServer, clusterNodeArgs({ ...node, nodeTimeoutMs }), {
          cwd: node.dir,
          output: 'capture',
        }),
      );
      const ready = await Promise.all(
        nodes.map((node, i) =>
          waitUntilReachable(() => probeRedis(node.url, { timeoutMs: 500 }), {
            timeoutMs: 15_000,
            intervalMs: 100,
            shouldStop: () => Boolean(procs[i].exit) || shouldStop(),
          }),
        ),
      );
      const failed = ready.findIndex((r) => !r.ok);
      if (failed < 0) break;
      await stopProcs();
      if (shouldStop()) throw new ShutdownRequested();
      for (const node of nodes) fs.rmSync(node.dir, { recursive: true, force: true });
      if (PORT_IN_USE.test(procs[failed].tail().join('\n')) && attempt < 3) continue;
      const proc = procs[failed];
      throw new LauncherError(
        `Started a Redis Cluster node (${redisServer} on port ${nodes[failed].port}), but it ${
          proc.exit ? describeExit(proc.exit) : `did not answer PING (${ready[failed].reason})`
        }. Its output:${lastLines(proc)}`,
      );
    }

    const create = startChild(
      'redis-cli',
      redisCli,
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      { cwd: dir, output: 'capture' },
    );
    const created = await create.exited;
    if (shouldStop()) throw new ShutdownRequested();
    if (created.code !== 0) {
      throw new LauncherError(`redis-cli --cluster create ${describeExit(created)}. Its output:${lastLines(create)}`);
    }

    const healthy = await Promise.all(
      nodes.map((node) =>
        waitUntilReachable(() => probeRedis(node.url, { timeoutMs: 1000, check: (c) => checkNode(c, count) }), {
          timeoutMs: 30_000,
          intervalMs: 200,
          shouldStop,
        }),
      ),
    );
    if (shouldStop()) throw new ShutdownRequested();
    const sick = healthy.findIndex((r) => !r.ok);
    if (sick >= 0) {
      throw new LauncherError(
        `Created a Redis Cluster, but node 127.0.0.1:${nodes[sick].port} did not report it whole within 30 s (${healthy[sick].reason}). redis-cli said:${lastLines(create)}`,
      );
    }
    nodes.forEach((node, i) => {
      node.id = healthy[i].value.id;
    });
  } catch (err) {
    await stopProcs();
    removeTempDirSync(dir);
    throw err;
  }

  /** The cluster as one live node sees it (CLUSTER NODES), or undefined when none answers. */
  async function clusterNodes(except) {
    for (const other of nodes) {
      if (other === except) continue;
      const seen = await probeRedis(other.url, { timeoutMs: 500, check: (c) => c.call('CLUSTER', 'NODES') });
      if (seen.ok) return parseClusterNodes(seen.value);
    }
    return undefined;
  }

  async function waitForFailover(node, { signal }) {
    const t0 = Date.now();
    const deadline = t0 + 10 * nodeTimeoutMs;
    let waiting = false;
    while (Date.now() < deadline) {
      const entry = (await clusterNodes(node))?.find((e) => e.id === node.id);
      if (signal.aborted) return;
      if (entry && (entry.role !== 'master' || entry.slots.length === 0)) {
        if (waiting)
          log.info(`redis node :${node.port}: a replica took over its slots after ${formatDuration(Date.now() - t0)}`);
        return;
      }
      if (entry && !waiting) {
        log.info(`redis node :${node.port} was a master: waiting for a replica to take over its slots first`);
        waiting = true;
      }
      await sleep(250, undefined, { signal });
    }
    log.warn(
      `no replica took over the slots of redis node :${node.port} within ${formatDuration(10 * nodeTimeoutMs)}; restarting it anyway (without persistence its keys are gone)`,
    );
  }

  nodes.forEach((node, i) => {
    node.supervisor = supervise({
      name: `redis node :${node.port}`,
      initial: procs[i],
      spawn: () =>
        startChild(`redis:${node.port}`, redisServer, clusterNodeArgs({ ...node, nodeTimeoutMs }), {
          cwd: node.dir,
          output: 'capture',
        }),
      log,
      beforeRestart: (ctx) => waitForFailover(node, ctx),
    });
  });

  return {
    kind: 'redis-cluster',
    dir,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    nodes,
    /** Every node with its current role and slots: [{ port, pid, id, role, slots, masterPort? }]. */
    async topology() {
      const entries = (await clusterNodes()) ?? [];
      const portOf = new Map(entries.map((e) => [e.id, e.port]));
      return nodes.map((node) => {
        const entry = entries.find((e) => e.id === node.id);
        return {
          port: node.port,
          pid: node.supervisor.current?.exit ? undefined : node.supervisor.current?.pid,
          id: node.id,
          role: entry ? (entry.failing ? `${entry.role} (failing)` : entry.role) : 'unknown',
          slots: entry ? formatSlots(entry.slots) : '',
          ...(entry?.masterId ? { masterPort: portOf.get(entry.masterId) } : {}),
        };
      });
    },
    // Nodes come back by themselves; the cluster as a whole is never "lost" from here.
    lost: new Promise(() => undefined),
    async stop() {
      await Promise.all(nodes.map((n) => n.supervisor.stop({ signal: 'SIGTERM', timeoutMs: 10_000 })));
      removeTempDirSync(dir);
    },
  };
}

/**
 * Checks a Redis Cluster someone else runs (REDIS_CLUSTER_NODES): the first seed that answers
 * must report cluster_state:ok. Resolves like a probe ({ ok, reachable, reason }), plus `via`.
 */
export async function probeRedisCluster(hostPorts, { timeoutMs = 1500 } = {}) {
  let last = { ok: false, reachable: false, reason: 'no seed nodes' };
  for (const { host, port } of hostPorts) {
    const via = `${host}:${port}`;
    const result = await probeRedis(`redis://${via}`, {
      timeoutMs,
      check: async (client) => {
        const info = parseInfo(await client.call('CLUSTER', 'INFO'));
        if (info.cluster_state !== 'ok') throw checkFailed(`it reports cluster_state:${info.cluster_state ?? '?'}`);
        return info;
      },
    });
    last = { ...result, via };
    // The first node that answers speaks for the cluster.
    if (result.ok || result.reachable) return last;
  }
  return last;
}
