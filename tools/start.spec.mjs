// Unit tests for the launcher's parts (tools/lib/*, tools/services.mjs' arguments). No Redis,
// Postgres or build needed; child processes are short node scripts. The real servers are
// tested in tools/services.int-spec.mjs, the launcher as a whole in tools/start.int-spec.mjs.
// Run: node --test tools/start.spec.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { MAX_REPLICAS, MAX_USERS, USAGE, UsageError, parseArgs, parseScale } from './lib/args.mjs';
import {
  compareVersionsDesc,
  describePostgresSetupProblem,
  findExecutable,
  findPostgresBinaries,
  findPostgresSetup,
  lookupSystemUser,
  parsePasswd,
} from './lib/binaries.mjs';
import {
  APPS,
  DEFAULT_PORT_BASE,
  BUILD_PROJECTS,
  DEFAULT_DATABASE_URL,
  DEFAULT_REDIS_URL,
  databaseNameOf,
  dbCliSteps,
  formatDuration,
  intFromEnv,
  localDatabaseUrl,
  localRedisUrl,
  maintenanceDatabaseUrl,
  parseHostPorts,
  redactUrl,
  resolveServiceConfig,
} from './lib/config.mjs';
import { planInstances, summarizePlan } from './lib/instances.mjs';
import { createLogFormatter, toReadableRecord } from './lib/log-format.mjs';
import { findFreePort, isPortFree } from './lib/ports.mjs';
import {
  assignColors,
  COLORS,
  createLineSplitter,
  createPrefixer,
  formatPrefix,
  shouldUseColor,
} from './lib/prefix.mjs';
import { checkFailed, isPgUnreachable, isRedisUnreachable, probePostgres, probeRedis } from './lib/probes.mjs';
import { describeExit, startChild } from './lib/procs.mjs';
import { clusterNodeArgs, formatSlots, parseClusterNodes, parseInfo, slotCount } from './lib/redis-cluster.mjs';
import { DEFAULT_RESTART_POLICY, decideRestart, initialCrashState } from './lib/restart-policy.mjs';
import { postgresServerArgs, redisServerArgs } from './lib/services.mjs';
import { supervise } from './lib/supervisor.mjs';
import { parseServicesArgs } from './services.mjs';

const tmpRoots = [];
function tmpDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wp-start-spec-'));
  tmpRoots.push(dir);
  return dir;
}
after(() => {
  for (const dir of tmpRoots) fs.rmSync(dir, { recursive: true, force: true });
});

function touch(file, mode = 0o755) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\nexit 0\n');
  fs.chmodSync(file, mode);
  return file;
}

describe('parseArgs', () => {
  const DEFAULTS = {
    help: false,
    build: true,
    users: undefined,
    servicesOnly: false,
    scale: {},
    redisCluster: false,
    replica: false,
    logs: undefined,
  };

  test('defaults', () => {
    assert.deepEqual(parseArgs([]), DEFAULTS);
  });

  test('flags', () => {
    assert.equal(parseArgs(['--help']).help, true);
    assert.equal(parseArgs(['-h']).help, true);
    assert.equal(parseArgs(['--no-build']).build, false);
    assert.equal(parseArgs(['--services-only']).servicesOnly, true);
    assert.equal(parseArgs(['--users', '2000']).users, 2000);
    assert.equal(parseArgs(['--users=1']).users, 1);
    assert.equal(parseArgs(['--redis-cluster']).redisCluster, true);
    assert.equal(parseArgs(['--replica']).replica, true);
    assert.equal(parseArgs(['--logs', 'json']).logs, 'json');
    assert.equal(parseArgs(['--logs=pretty']).logs, 'pretty');
    assert.deepEqual(parseArgs(['--no-build', '--users', '5', '--services-only', '--scale', 'gateway=2']), {
      ...DEFAULTS,
      build: false,
      users: 5,
      servicesOnly: true,
      scale: { gateway: 2 },
    });
  });

  test('--scale: replicas per app; several flags add up, a later one wins for the same app', () => {
    assert.deepEqual(parseArgs(['--scale', 'feed-worker=3,gateway=2']).scale, { 'feed-worker': 3, gateway: 2 });
    assert.deepEqual(parseArgs(['--scale=feed-worker=3', '--scale', 'gateway=2,feed-worker=1']).scale, {
      'feed-worker': 1,
      gateway: 2,
    });
    assert.deepEqual(parseScale(` invalidation-worker=${MAX_REPLICAS}`), { 'invalidation-worker': MAX_REPLICAS });
  });

  test('the last --users wins', () => {
    assert.equal(parseArgs(['--users', '1', '--users=7']).users, 7);
  });

  const rejects = (argv, pattern) =>
    assert.throws(
      () => parseArgs(argv),
      (err) => err instanceof UsageError && pattern.test(err.message),
    );

  test('unknown flags are errors, with a suggestion when close', () => {
    rejects(['--bogus'], /unknown option --bogus$/);
    rejects(['--user', '5'], /unknown option --user \(did you mean --users\?\)/);
    rejects(['--nobuild'], /did you mean --no-build/);
    rejects(['-x'], /unknown option -x/);
  });

  test('--users needs a positive whole number', () => {
    rejects(['--users'], /needs a value/);
    rejects(['--users', '--no-build'], /needs a value/);
    rejects(['--users', '-5'], /needs a value/);
    rejects(['--users', 'many'], /positive whole number, got "many"/);
    rejects(['--users=1.5'], /positive whole number/);
    rejects(['--users='], /positive whole number/);
    rejects(['--users', '0'], /between 1 and/);
    rejects(['--users', String(MAX_USERS + 1)], /between 1 and/);
  });

  test('--scale and --logs reject what they cannot run', () => {
    rejects(['--scale'], /--scale needs a value, e.g. --scale feed-worker=3,gateway=2/);
    rejects(['--scale', 'feed-worker'], /APP=N pairs/);
    rejects(['--scale', 'feed=3'], /unknown app "feed"; apps: gateway, profile-worker/);
    rejects(['--scale', 'feed-workers=3'], /unknown app "feed-workers" \(did you mean feed-worker\?\)/);
    rejects(['--scale', 'gateway=0'], new RegExp(`from 1 to ${MAX_REPLICAS}, got "0"`));
    rejects(['--scale', `gateway=${MAX_REPLICAS + 1}`], /from 1 to/);
    rejects(['--scale', 'gateway=two'], /got "two"/);
    rejects(['--scale', 'gateway=2,gateway=3'], /names gateway twice/);
    rejects(['--logs', 'xml'], /--logs must be pretty or json, got "xml"/);
    rejects(['--redis-clusters'], /did you mean --redis-cluster/);
  });

  test('positional arguments are errors', () => {
    rejects(['gateway'], /unexpected argument "gateway"/);
  });

  test('usage documents every option and the testing hooks', () => {
    for (const word of [
      '--users',
      '--no-build',
      '--services-only',
      '--help',
      '--scale',
      '--redis-cluster',
      '--replica',
      '--logs',
      'REDIS_CLUSTER_NODES',
      'tools/services.mjs',
      ...APPS.map((a) => a.name),
      'REDIS_URL',
      'DATABASE_URL',
      'WP_START_REDIS_PROBE_URL',
      'WP_START_DATABASE_PROBE_URL',
      'WP_START_PG_LIB_ROOT',
      'WP_START_DIST_DIR',
      'WP_START_PORT_BASE',
      'WP_START_STOP_TIMEOUT_MS',
    ]) {
      assert.ok(USAGE.includes(word), `usage mentions ${word}`);
    }
  });
});

describe('service configuration', () => {
  test('defaults are not explicit', () => {
    assert.deepEqual(resolveServiceConfig({}), {
      redisClusterNodes: undefined,
      redis: { url: DEFAULT_REDIS_URL, explicit: false },
      database: { url: DEFAULT_DATABASE_URL, explicit: false },
    });
    assert.equal(DEFAULT_REDIS_URL, 'redis://127.0.0.1:6379');
    assert.equal(DEFAULT_DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/worker_pattern');
  });

  test('URLs from the environment are explicit; empty ones count as unset', () => {
    const cfg = resolveServiceConfig({ REDIS_URL: 'redis://r:6379', DATABASE_URL: ' postgres://d/db ' });
    assert.deepEqual(cfg.redis, { url: 'redis://r:6379', explicit: true });
    assert.deepEqual(cfg.database, { url: 'postgres://d/db', explicit: true });
    assert.equal(resolveServiceConfig({ REDIS_URL: '' }).redis.explicit, false);
    assert.equal(resolveServiceConfig({ DATABASE_URL: '   ' }).database.explicit, false);
    assert.equal(resolveServiceConfig({ REDIS_CLUSTER_NODES: ' a:1,b:2 ' }).redisClusterNodes, 'a:1,b:2');
  });

  test('parseHostPorts reads REDIS_CLUSTER_NODES and names a bad entry', () => {
    assert.deepEqual(parseHostPorts('127.0.0.1:7001, redis-2:7002,[::1]:7003'), [
      { host: '127.0.0.1', port: 7001 },
      { host: 'redis-2', port: 7002 },
      { host: '[::1]', port: 7003 },
    ]);
    assert.throws(() => parseHostPorts('127.0.0.1:7001,redis-2'), /"redis-2" is not host:port/);
    assert.throws(() => parseHostPorts('a:0'), /"a:0" is not host:port/);
    assert.throws(() => parseHostPorts('a:70000'), /is not host:port/);
    assert.throws(() => parseHostPorts('redis://a:1'), /is not host:port/);
  });

  test('probe-URL hooks move the default but stay "not explicit"; a user URL beats them', () => {
    const env = {
      WP_START_REDIS_PROBE_URL: 'redis://127.0.0.1:1',
      WP_START_DATABASE_PROBE_URL: 'postgres://postgres@127.0.0.1:1/x',
    };
    assert.deepEqual(resolveServiceConfig(env).redis, { url: 'redis://127.0.0.1:1', explicit: false });
    assert.deepEqual(resolveServiceConfig(env).database, { url: 'postgres://postgres@127.0.0.1:1/x', explicit: false });
    assert.deepEqual(resolveServiceConfig({ ...env, REDIS_URL: 'redis://mine:1' }).redis, {
      url: 'redis://mine:1',
      explicit: true,
    });
  });

  test('intFromEnv', () => {
    assert.equal(intFromEnv({}, 'X', 30), 30);
    assert.equal(intFromEnv({ X: '' }, 'X', 30), 30);
    assert.equal(intFromEnv({ X: '3100' }, 'X', 30), 3100);
    assert.throws(() => intFromEnv({ X: 'abc' }, 'X', 30), /X must be a whole number/);
    assert.throws(() => intFromEnv({ X: '0' }, 'X', 30), /between 1/);
    assert.throws(() => intFromEnv({ X: '70000' }, 'X', 30, { max: 65_532 }), /and 65532/);
  });

  test('apps and build projects', () => {
    assert.deepEqual(
      APPS.map((a) => a.name),
      ['gateway', 'profile-worker', 'feed-worker', 'recommendations-worker', 'invalidation-worker'],
    );
    assert.equal(
      BUILD_PROJECTS.join(','),
      'gateway,profile-worker,feed-worker,recommendations-worker,invalidation-worker,db-cli',
    );
  });

  test('db-cli steps pass --users through to seed only', () => {
    assert.deepEqual(dbCliSteps(undefined), [['migrate'], ['seed', '--if-empty']]);
    assert.deepEqual(dbCliSteps(2000), [['migrate'], ['seed', '--if-empty', '--users', '2000']]);
  });
});

describe('URL helpers', () => {
  test('redactUrl hides passwords only', () => {
    assert.equal(redactUrl('postgres://u:secret@h:5432/db'), 'postgres://u:***@h:5432/db');
    assert.equal(redactUrl('redis://:pw@127.0.0.1:6379'), 'redis://:***@127.0.0.1:6379');
    assert.equal(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
    assert.equal(
      redactUrl('postgres://postgres@127.0.0.1:5432/worker_pattern'),
      'postgres://postgres@127.0.0.1:5432/worker_pattern',
    );
  });

  test('maintenanceDatabaseUrl swaps only the database', () => {
    assert.equal(
      maintenanceDatabaseUrl('postgres://u:p@db.example:6543/worker_pattern?sslmode=require'),
      'postgres://u:p@db.example:6543/postgres?sslmode=require',
    );
    assert.equal(
      maintenanceDatabaseUrl('postgresql://postgres@127.0.0.1:5432'),
      'postgresql://postgres@127.0.0.1:5432/postgres',
    );
    assert.throws(() => maintenanceDatabaseUrl('not a url'));
  });

  test('databaseNameOf and local URLs', () => {
    assert.equal(databaseNameOf('postgres://postgres@127.0.0.1:5432/worker_pattern'), 'worker_pattern');
    assert.equal(databaseNameOf('postgres://postgres@127.0.0.1:5432/'), 'worker_pattern');
    assert.equal(databaseNameOf('postgres://h/my%20db'), 'my db');
    assert.equal(localDatabaseUrl(5433, 'my db'), 'postgres://postgres@127.0.0.1:5433/my%20db');
    assert.equal(localRedisUrl(6380), 'redis://127.0.0.1:6380');
  });

  test('formatDuration', () => {
    assert.equal(formatDuration(12), '12 ms');
    assert.equal(formatDuration(1234), '1.2 s');
    assert.equal(formatDuration(30_000), '30 s');
    assert.equal(formatDuration(59_999), '1 min 0 s');
    assert.equal(formatDuration(125_000), '2 min 5 s');
  });
});

describe('ports', () => {
  test('findFreePort gives a port we can bind', async () => {
    const port = await findFreePort();
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536);
    assert.equal(await isPortFree(port, '127.0.0.1'), true);
  });

  test('isPortFree is false while something listens, true after', async () => {
    const server = net.createServer();
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address();
    assert.equal(await isPortFree(port, '127.0.0.1'), false);
    assert.equal(await isPortFree(port), false, 'binding all addresses collides with a 127.0.0.1 listener');
    await new Promise((r) => server.close(r));
    assert.equal(await isPortFree(port, '127.0.0.1'), true);
  });

  test('two findFreePort calls in a row normally differ', async () => {
    const ports = new Set(await Promise.all([findFreePort(), findFreePort(), findFreePort()]));
    assert.ok(ports.size >= 2);
  });
});

describe('binary discovery', () => {
  test('findExecutable follows PATH order and skips non-executables and dirs', () => {
    const root = tmpDir();
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    const c = path.join(root, 'c');
    touch(path.join(a, 'redis-server'), 0o644); // not executable
    fs.mkdirSync(path.join(b, 'redis-server'), { recursive: true }); // a directory
    const good = touch(path.join(c, 'redis-server'));
    const pathEnv = ['', a, b, c].join(path.delimiter);
    assert.equal(findExecutable('redis-server', pathEnv), good);
    assert.equal(findExecutable('nope', pathEnv), undefined);
    assert.equal(findExecutable('redis-server', ''), undefined);
  });

  test('compareVersionsDesc sorts Postgres version dirs highest first', () => {
    assert.deepEqual(['9.6', '13', '15', '10', 'x'].sort(compareVersionsDesc), ['15', '13', '10', '9.6', 'x']);
  });

  test('findPostgresBinaries picks the highest complete version under the lib root', () => {
    const root = tmpDir();
    touch(path.join(root, '16', 'bin', 'initdb')); // no postgres binary: incomplete
    touch(path.join(root, '13', 'bin', 'initdb'));
    touch(path.join(root, '13', 'bin', 'postgres'));
    touch(path.join(root, '13', 'bin', 'pg_ctl'));
    touch(path.join(root, '9.6', 'bin', 'initdb'));
    touch(path.join(root, '9.6', 'bin', 'postgres'));
    const found = findPostgresBinaries({ pathEnv: '', libRoot: root });
    assert.equal(found.binDir, path.join(root, '13', 'bin'));
    assert.equal(found.initdb, path.join(root, '13', 'bin', 'initdb'));
    assert.equal(found.postgres, path.join(root, '13', 'bin', 'postgres'));
    assert.equal(found.pgCtl, path.join(root, '13', 'bin', 'pg_ctl'));
    assert.deepEqual(found.searched, [path.join(root, '16', 'bin'), path.join(root, '13', 'bin')]);
  });

  test('findPostgresBinaries prefers PATH, and follows a symlinked initdb to its real bin dir', () => {
    const root = tmpDir();
    const real = path.join(root, 'opt', 'pg', 'bin');
    touch(path.join(real, 'initdb'));
    touch(path.join(real, 'postgres'));
    const onPath = path.join(root, 'usr-local-bin');
    fs.mkdirSync(onPath);
    fs.symlinkSync(path.join(real, 'initdb'), path.join(onPath, 'initdb')); // no postgres next to it
    const libRoot = path.join(root, 'lib');
    touch(path.join(libRoot, '15', 'bin', 'initdb'));
    touch(path.join(libRoot, '15', 'bin', 'postgres'));
    const found = findPostgresBinaries({ pathEnv: onPath, libRoot });
    assert.equal(found.binDir, real);
    assert.equal(found.pgCtl, undefined);
  });

  test('findPostgresBinaries reports where it looked when nothing is there', () => {
    const root = tmpDir();
    const found = findPostgresBinaries({ pathEnv: root, libRoot: path.join(root, 'none') });
    assert.equal(found.binDir, undefined);
    assert.deepEqual(found.searched, [`${path.join(root, 'none')}/*/bin`]);
  });

  test('parsePasswd / lookupSystemUser', () => {
    const text = [
      '# comment',
      'root:x:0:0:root:/root:/bin/bash',
      'postgres:x:101:104:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash',
      'broken:x:abc:1:::',
      '',
    ].join('\n');
    assert.deepEqual(parsePasswd(text, 'postgres'), { uid: 101, gid: 104, home: '/var/lib/postgresql' });
    assert.deepEqual(parsePasswd(text, 'root'), { uid: 0, gid: 0, home: '/root' });
    assert.equal(parsePasswd(text, 'nobody-here'), undefined);
    assert.equal(parsePasswd(text, 'broken'), undefined);
    const file = path.join(tmpDir(), 'passwd');
    fs.writeFileSync(file, text);
    assert.deepEqual(lookupSystemUser('postgres', file), { uid: 101, gid: 104, home: '/var/lib/postgresql' });
    assert.equal(lookupSystemUser('postgres', path.join(tmpDir(), 'missing')), undefined);
  });
});

describe('line prefixing', () => {
  test('every registered app, and what the launcher runs besides, has a colour of its own', () => {
    const names = [...APPS.map((a) => a.name), 'db-cli', 'redis', 'postgres', 'start'];
    for (const name of names) assert.ok(COLORS[name] !== undefined, `${name} has no colour`);
    assert.equal(new Set(names.map((n) => COLORS[n])).size, names.length);
    // The apps a generator may add come after the palette: still one colour each, none an infra one.
    const many = Array.from({ length: 40 }, (_, i) => `app-${i}`);
    const colors = assignColors(many);
    assert.equal(new Set([...many, 'db-cli', 'redis', 'postgres', 'start'].map((n) => colors[n])).size, 44);
    assert.equal(colors['app-0'], COLORS[APPS[0].name]);
  });

  test('formatPrefix pads every name to the same column', () => {
    assert.equal(formatPrefix('gateway', 22, undefined), `[gateway]${' '.repeat(15)} `);
    assert.equal(formatPrefix('recommendations-worker', 22, undefined), '[recommendations-worker] ');
    assert.equal(formatPrefix('gateway', 22, undefined).length, formatPrefix('feed-worker', 22, undefined).length);
    assert.equal(formatPrefix('db-cli', 6, 34), '\x1b[34m[db-cli]\x1b[0m ');
  });

  test('splitter: lines across chunks, CRLF, empty lines, last line without newline', () => {
    const lines = [];
    const s = createLineSplitter((l) => lines.push(l));
    s.push('hel');
    s.push('lo\nwor');
    s.push('ld\r\n\nlast');
    assert.deepEqual(lines, ['hello', 'world', '']);
    s.flush();
    assert.deepEqual(lines, ['hello', 'world', '', 'last']);
    s.flush();
    assert.equal(lines.length, 4, 'a second flush emits nothing');
  });

  test('splitter keeps a UTF-8 character split across chunks whole', () => {
    const lines = [];
    const s = createLineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('é✓ ok\n', 'utf8');
    for (const b of bytes) s.push(Buffer.from([b])); // one byte at a time
    assert.deepEqual(lines, ['é✓ ok']);
  });

  test('a JSON log line stays valid JSON after the prefix', () => {
    const out = [];
    const p = createPrefixer({ name: 'feed-worker', width: 22, color: 32, write: (s) => out.push(s) });
    const log = { level: 30, time: 1, msg: 'built fragment "feed"\twith tab', data: { nested: [1, 'ü'] } };
    const text = JSON.stringify(log);
    p.push(Buffer.from(text.slice(0, 10)));
    p.push(Buffer.from(`${text.slice(10)}\nplain line\n`));
    assert.equal(out.length, 2);
    const prefix = formatPrefix('feed-worker', 22, 32);
    assert.ok(out[0].startsWith(prefix));
    assert.deepEqual(JSON.parse(out[0].slice(prefix.length)), log);
    assert.equal(out[1], `${prefix}plain line\n`);
  });

  test('shouldUseColor: NO_COLOR, FORCE_COLOR, TTY', () => {
    const tty = { isTTY: true };
    assert.equal(shouldUseColor(tty, {}), true);
    assert.equal(shouldUseColor({ isTTY: false }, {}), false);
    assert.equal(shouldUseColor(tty, { NO_COLOR: '1' }), false);
    assert.equal(shouldUseColor(tty, { TERM: 'dumb' }), false);
    assert.equal(shouldUseColor({ isTTY: false }, { FORCE_COLOR: '1' }), true);
    assert.equal(shouldUseColor(tty, { FORCE_COLOR: '0' }), false);
    assert.equal(shouldUseColor({ isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: '1' }), false);
  });
});

describe('probes (classification, and a closed port: no server needed)', () => {
  test('pg errors: network vs. a server that answered', () => {
    assert.equal(
      isPgUnreachable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })),
      true,
    );
    assert.equal(isPgUnreachable(new Error('timeout expired')), true);
    assert.equal(isPgUnreachable(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isPgUnreachable(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })])), true);
    assert.equal(isPgUnreachable(Object.assign(new Error('password authentication failed'), { code: '28P01' })), false);
    assert.equal(isPgUnreachable(Object.assign(new Error('role "x" does not exist'), { code: '28000' })), false);
  });

  test('redis errors: network vs. a server that answered', () => {
    assert.equal(isRedisUnreachable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), true);
    assert.equal(
      isRedisUnreachable(Object.assign(new Error('NOAUTH Authentication required.'), { name: 'ReplyError' })),
      false,
    );
    assert.equal(isRedisUnreachable(Object.assign(new Error('WRONGPASS invalid'), { name: 'ReplyError' })), false);
  });

  test('probing a closed port says "unreachable", quickly', async () => {
    const port = await findFreePort(); // nothing listens there
    const t0 = Date.now();
    const [r, p] = await Promise.all([
      probeRedis(`redis://127.0.0.1:${port}`, { timeoutMs: 1000 }),
      probePostgres(`postgres://postgres@127.0.0.1:${port}/worker_pattern`, { timeoutMs: 1000 }),
    ]);
    assert.equal(r.ok, false);
    assert.equal(r.reachable, false);
    assert.match(r.reason, /ECONNREFUSED/);
    assert.equal(p.ok, false);
    assert.equal(p.reachable, false);
    assert.match(p.reason, /ECONNREFUSED/);
    assert.ok(Date.now() - t0 < 3000);
  });

  test('a server that is not Redis/Postgres and never answers times out as unreachable', async () => {
    const sockets = new Set();
    const server = net.createServer((s) => sockets.add(s)); // accepts, says nothing
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address();
    try {
      const [r, p] = await Promise.all([
        probeRedis(`redis://127.0.0.1:${port}`, { timeoutMs: 300 }),
        probePostgres(`postgres://postgres@127.0.0.1:${port}/x`, { timeoutMs: 300 }),
      ]);
      assert.deepEqual([r.ok, r.reachable], [false, false]);
      assert.deepEqual([p.ok, p.reachable], [false, false]);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('child processes', () => {
  test('captures output lines and reports the exit', async () => {
    const child = startChild(
      't',
      process.execPath,
      ['-e', 'console.log("a\\nb"); console.error("c"); process.exit(3)'],
      {
        output: 'capture',
      },
    );
    const info = await child.exited;
    assert.equal(info.code, 3);
    assert.deepEqual(child.tail().sort(), ['a', 'b', 'c']);
    assert.equal(describeExit(info), 'exited with code 3');
  });

  test('prefixes lines in "prefix" mode', async () => {
    const out = [];
    const child = startChild('app', process.execPath, ['-e', 'console.log(JSON.stringify({a:1}))'], {
      prefixWidth: 5,
      out: (s) => out.push(s),
      err: (s) => out.push(s),
    });
    await child.exited;
    assert.deepEqual(out, ['[app]   {"a":1}\n']);
  });

  test('stop() escalates to SIGKILL when SIGTERM is ignored', async () => {
    const child = startChild(
      't',
      process.execPath,
      ['-e', 'process.on("SIGTERM", () => console.log("ignored")); console.log("up"); setInterval(() => {}, 1000)'],
      { output: 'capture' },
    );
    while (!child.tail().includes('up')) await new Promise((r) => setTimeout(r, 20));
    const info = await child.stop({ signal: 'SIGTERM', timeoutMs: 300 });
    assert.equal(info.killed, true);
    assert.equal(info.signal, 'SIGKILL');
    assert.equal(describeExit(info), 'was killed by SIGKILL');
  });

  test('a missing command is reported, not thrown', async () => {
    const child = startChild('t', path.join(tmpDir(), 'no-such-binary'), [], { output: 'capture' });
    const info = await child.exited;
    assert.ok(info.error);
    assert.match(describeExit(info), /could not be started/);
  });
});

describe('instances and ports', () => {
  test('the registry’s apps (libs/registry/src/apps.json), each at its registered port with the default base', () => {
    assert.deepEqual(
      APPS.map((a) => a.name),
      ['gateway', 'profile-worker', 'feed-worker', 'recommendations-worker', 'invalidation-worker'],
    );
    assert.deepEqual(
      planInstances(APPS, {}, DEFAULT_PORT_BASE).map((i) => i.port),
      APPS.map((a) => a.port),
    );
  });

  test('no --scale: the familiar layout, one process per app', () => {
    assert.deepEqual(
      planInstances(APPS, {}, 3000).map((i) => [i.name, i.port]),
      [
        ['gateway', 3000],
        ['profile-worker', 3001],
        ['feed-worker', 3002],
        ['recommendations-worker', 3003],
        ['invalidation-worker', 3004],
      ],
    );
  });

  test('replicas count up together: gateways from the base, then each worker; no port twice', () => {
    const plan = planInstances(APPS, { 'feed-worker': 3, gateway: 2 }, 3000);
    assert.deepEqual(
      plan.map((i) => [i.name, i.app, i.replica, i.port]),
      [
        ['gateway.1', 'gateway', 1, 3000],
        ['gateway.2', 'gateway', 2, 3001],
        ['profile-worker', 'profile-worker', 1, 3002],
        ['feed-worker.1', 'feed-worker', 1, 3003],
        ['feed-worker.2', 'feed-worker', 2, 3004],
        ['feed-worker.3', 'feed-worker', 3, 3005],
        ['recommendations-worker', 'recommendations-worker', 1, 3006],
        ['invalidation-worker', 'invalidation-worker', 1, 3007],
      ],
    );
    assert.deepEqual(summarizePlan(plan), [
      'gateway ×2 (:3000-3001)',
      'profile-worker (:3002)',
      'feed-worker ×3 (:3003-3005)',
      'recommendations-worker (:3006)',
      'invalidation-worker (:3007)',
    ]);
  });

  test('every scale gives distinct, consecutive ports', () => {
    for (const scale of [{}, { gateway: 16 }, { 'invalidation-worker': 4, 'profile-worker': 2 }]) {
      const ports = planInstances(APPS, scale, 4000).map((i) => i.port);
      assert.equal(new Set(ports).size, ports.length);
      assert.deepEqual(
        ports,
        ports.map((_, k) => 4000 + k),
      );
    }
  });
});

describe('restart policy', () => {
  const policy = DEFAULT_RESTART_POLICY;
  const run = (uptimes) => {
    let state = initialCrashState();
    return uptimes.map((uptime) => {
      const decision = decideRestart(state, uptime, policy);
      state = decision.state;
      return decision.giveUp ? 'give up' : decision.delayMs;
    });
  };

  test('restarts at once-ish, doubling while it keeps crashing, up to the ceiling', () => {
    assert.deepEqual(
      run([20_000, 20_000, 20_000, 20_000, 20_000, 20_000, 20_000]),
      [500, 1000, 2000, 4000, 8000, 15_000, 15_000],
    );
  });

  test('a long enough run forgets the crash streak', () => {
    assert.deepEqual(run([20_000, 20_000, policy.stableAfterMs, 20_000]), [500, 1000, 500, 1000]);
  });

  test(`gives up after ${policy.maxFastCrashes} fast crashes in a row, saying why`, () => {
    assert.deepEqual(run([100, 100, 100, 100, 100]), [500, 1000, 2000, 4000, 'give up']);
    const last = decideRestart({ crashes: 4, fastCrashes: 4 }, 100, policy);
    assert.equal(last.giveUp, true);
    assert.equal(last.reason, 'it stopped 5 times in a row, each time within 10 s of starting');
  });

  test('a slower crash in between resets the count of fast ones (not the back-off)', () => {
    assert.deepEqual(run([100, 100, 100, 100, 20_000, 100, 100]), [500, 1000, 2000, 4000, 8000, 15_000, 15_000]);
  });
});

describe('supervisor', () => {
  const quick = { initialDelayMs: 10, maxDelayMs: 40, stableAfterMs: 60_000, fastCrashMs: 10_000, maxFastCrashes: 3 };
  const recorder = () => {
    const lines = [];
    return { lines, log: { info: (t) => lines.push(`info ${t}`), warn: (t) => lines.push(`warn ${t}`) } };
  };
  const node = (script) => () => startChild('t', process.execPath, ['-e', script], { output: 'capture' });
  const until = async (condition, what) => {
    const deadline = Date.now() + 10_000;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const alive = (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  test('a process that keeps crashing at once is restarted with back-off, then given up on', async () => {
    const { lines, log } = recorder();
    let spawns = 0;
    const s = supervise({
      name: 'crasher',
      spawn: () => {
        spawns++;
        return node('process.exit(3)')();
      },
      log,
      policy: quick,
    });
    const result = await s.done;
    assert.equal(result.gaveUp, true);
    assert.equal(result.info.code, 3);
    assert.equal(spawns, 3);
    assert.equal(s.restarts, 2);
    assert.equal(s.state, 'gave-up');
    assert.match(lines[0], /^warn crasher exited with code 3 after \d+ ms up; restarting it in 10 ms$/);
    assert.match(lines[1], /^info crasher restarted \(pid \d+\), restart 1$/);
    assert.match(lines[2], /restarting it in 20 ms$/);
    assert.equal(
      lines.at(-1),
      'warn crasher exited with code 3; giving up on it, since it stopped 3 times in a row, each time within 10 s of starting. The rest keep running.',
    );
    assert.equal(await s.stop(), undefined, 'stop() after giving up is a no-op');
  });

  test('a killed process comes back; stop() ends it for good', async () => {
    const { lines, log } = recorder();
    const starts = [];
    const s = supervise({
      name: 'app',
      spawn: node('console.log("up"); setInterval(() => {}, 1000)'),
      log,
      policy: quick,
      where: (m) => `pid ${m.pid}, :1234`,
      onStart: (managed, ctx) => starts.push({ pid: managed.pid, ...ctx }),
    });
    const first = s.current;
    await until(() => first.tail().includes('up'), 'the first start');
    process.kill(first.pid, 'SIGKILL');
    await until(() => s.restarts === 1 && s.current.tail().includes('up'), 'the restart');
    assert.notEqual(s.current.pid, first.pid);
    assert.equal(starts.length, 2);
    assert.equal(starts[0].restart, 0);
    assert.equal(starts[1].restart, 1);
    assert.ok(starts[1].downSince >= first.startedAt, 'the restart knows when the app went down');
    assert.match(lines[0], /^warn app was killed by SIGKILL after \d+ ms up; restarting it in 10 ms$/);
    assert.match(lines[1], /^info app restarted \(pid \d+, :1234\), restart 1$/);

    const second = s.current;
    const info = await s.stop({ signal: 'SIGTERM', timeoutMs: 5000 });
    assert.equal(info.signal, 'SIGTERM');
    assert.equal(s.state, 'stopped');
    assert.deepEqual(await s.done, { gaveUp: false });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.current, second, 'nothing is started after stop()');
    assert.equal(alive(second.pid), false);
  });

  test('stop() during the back-off cancels the restart', async () => {
    const { log } = recorder();
    let spawns = 0;
    const s = supervise({
      name: 'slow',
      spawn: () => {
        spawns++;
        return node('process.exit(1)')();
      },
      log,
      policy: { ...quick, initialDelayMs: 60_000 },
    });
    await until(() => s.state === 'waiting', 'the back-off');
    const t0 = Date.now();
    assert.equal(await s.stop(), undefined);
    assert.ok(Date.now() - t0 < 5000, 'stop() does not sit out the back-off');
    assert.equal(s.state, 'stopped');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(spawns, 1);
  });

  test('beforeRestart runs between the back-off and the restart, and can be cut short by stop()', async () => {
    const { log } = recorder();
    let spawns = 0;
    let sawAbort = false;
    const s = supervise({
      name: 'node',
      spawn: () => {
        spawns++;
        return node('process.exit(1)')();
      },
      log,
      policy: quick,
      beforeRestart: ({ signal }) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve();
          });
        }),
    });
    await until(() => s.state === 'waiting' && spawns === 1, 'beforeRestart');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(spawns, 1, 'no restart while beforeRestart is pending');
    await s.stop();
    assert.equal(sawAbort, true);
    assert.equal(spawns, 1);
  });

  test('an adopted process counts its uptime from its own start', async () => {
    const { lines, log } = recorder();
    const initial = node('setTimeout(() => process.exit(0), 300)')();
    const s = supervise({ name: 'adopted', initial, spawn: node('setInterval(() => {}, 1000)'), log, policy: quick });
    assert.equal(s.current, initial);
    await until(() => s.restarts === 1, 'the restart');
    assert.match(lines[0], /^warn adopted exited with code 0 after \d+ ms up/);
    assert.ok(Number(/after (\d+) ms/.exec(lines[0])[1]) >= 250);
    await s.stop({ timeoutMs: 5000 });
  });
});

describe('log lines', () => {
  const line = (record) =>
    JSON.stringify({
      level: 'info',
      time: '2026-01-02T03:04:05.678Z',
      service: 'gateway',
      pid: 7,
      hostname: 'h',
      ...record,
    });

  test('toReadableRecord folds context and requests into the message and drops what the prefix says', () => {
    assert.deepEqual(toReadableRecord(line({ context: 'Bootstrap', msg: 'listening' })), {
      record: { level: 'info', time: '2026-01-02T03:04:05.678Z', msg: '(Bootstrap) listening' },
      stack: undefined,
      skip: false,
    });
    const request = toReadableRecord(
      line({
        level: 'warn',
        reqId: 'r-1',
        req: { id: 'r-1', method: 'GET', url: '/api/x?ticket=[Redacted]', remoteAddress: '127.0.0.1' },
        res: { statusCode: 404 },
        responseTime: 1.5,
        msg: 'request completed',
      }),
    );
    assert.equal(request.record.msg, 'GET /api/x?ticket=[Redacted] 404 1.5 ms');
    assert.equal(request.record.reqId, 'r-1');
    assert.equal(request.record.req, undefined);
    const failed = toReadableRecord(line({ level: 'error', err: { message: 'boom', stack: 'Error: boom\n    at x' } }));
    assert.equal(failed.stack, 'Error: boom\n    at x');
    assert.equal(failed.record.err, undefined);
  });

  test("Nest's start-up inventory is marked to be skipped; other contexts are not", () => {
    assert.equal(toReadableRecord(line({ context: 'InstanceLoader', msg: 'X dependencies initialized' })).skip, true);
    assert.equal(toReadableRecord(line({ context: 'RouterExplorer', msg: 'Mapped {/x, GET}' })).skip, true);
    assert.equal(toReadableRecord(line({ context: 'RouterExplorer', level: 'warn', msg: 'odd' })).skip, false);
    assert.equal(toReadableRecord(line({ context: 'NestFactory', msg: 'Starting' })).skip, false);
  });

  test('anything that is not a pino record is left alone', () => {
    for (const text of ['plain text', '{"no":"level"}', '{broken', '[1,2]', 'null', '']) {
      assert.equal(toReadableRecord(text), undefined, text);
    }
  });

  test('pretty: one readable line per entry, stacks under it, inventory left out', async () => {
    const format = await createLogFormatter({ format: 'pretty', colorize: false });
    const shown = format(line({ context: 'Bootstrap', msg: 'gateway listening', extra: 1 }));
    assert.match(shown, /^\[\d\d:\d\d:\d\d\.678\] INFO: \(Bootstrap\) gateway listening \{"extra":1\}$/);
    assert.ok(!shown.includes('"pid"') && !shown.includes('hostname') && !shown.includes('"service"'));
    assert.equal(
      format(line({ level: 'error', msg: 'failed', err: { stack: 'Error: boom\n    at x' } }))
        .split('\n')
        .slice(1)
        .join('\n'),
      '    Error: boom\n        at x',
    );
    assert.equal(format(line({ context: 'InstanceLoader', msg: 'X dependencies initialized' })), undefined);
    assert.equal(format('Seeded 2,000 users'), 'Seeded 2,000 users');
  });

  test('json: every line exactly as the app wrote it', async () => {
    const format = await createLogFormatter({ format: 'json', colorize: true });
    const text = line({ context: 'InstanceLoader', msg: 'x' });
    assert.equal(format(text), text);
  });

  test('the prefixer shows formatted text, prefixes every line of it, and drops what format drops', () => {
    const out = [];
    const p = createPrefixer({
      name: 'app',
      width: 3,
      write: (s) => out.push(s),
      format: (l) => (l === 'skip' ? undefined : l === 'two' ? 'one\ntwo' : l.toUpperCase()),
    });
    p.push('a\nskip\ntwo\n');
    assert.deepEqual(out, ['[app] A\n', '[app] one\n[app] two\n']);
  });
});

describe('throwaway server arguments', () => {
  test('redis-server: loopback only, nothing persisted, logs to stdout', () => {
    const args = redisServerArgs({ port: 7001, dir: '/tmp/x' });
    const value = (flag) => args[args.indexOf(flag) + 1];
    assert.equal(value('--port'), '7001');
    assert.equal(value('--bind'), '127.0.0.1');
    assert.equal(value('--save'), '');
    assert.equal(value('--appendonly'), 'no');
    assert.equal(value('--logfile'), '');
  });

  test('a cluster node: cluster mode, its own nodes.conf, a 2 s node timeout, an explicit bus port', () => {
    const args = clusterNodeArgs({ port: 7001, busPort: 40001, dir: '/tmp/c/7001', nodeTimeoutMs: 2000 });
    const value = (flag) => args[args.indexOf(flag) + 1];
    assert.equal(value('--cluster-enabled'), 'yes');
    assert.equal(value('--cluster-config-file'), '/tmp/c/7001/nodes.conf');
    assert.equal(value('--cluster-node-timeout'), '2000');
    assert.equal(value('--cluster-port'), '40001');
    assert.equal(value('--bind'), '127.0.0.1');
    assert.equal(value('--save'), '');
  });

  test('postgres: loopback, socket in the temp dir, extra settings last (they win)', () => {
    const args = postgresServerArgs({ dataDir: '/d', port: 5499, socketDir: '/s', extra: ['-c', 'hot_standby=on'] });
    assert.deepEqual(args.slice(0, 8), ['-D', '/d', '-p', '5499', '-k', '/s', '-c', 'listen_addresses=127.0.0.1']);
    assert.deepEqual(args.slice(-2), ['-c', 'hot_standby=on']);
  });
});

describe('Redis Cluster replies', () => {
  const NODES = [
    '07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected',
    '67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,host-2 master - 0 1426238316232 2 connected 5461-10922',
    '292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383 [16384->-abc]',
    'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5459 5460',
    '6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005 master,fail - 1426238316232 1426238316232 5 disconnected',
    '',
  ].join('\n');

  test('parseClusterNodes: roles, masters, slot ranges, failure flags', () => {
    const nodes = parseClusterNodes(NODES);
    assert.equal(nodes.length, 5);
    assert.deepEqual(
      nodes.map((n) => [n.port, n.busPort, n.role, slotCount(n), n.failing, n.connected]),
      [
        [30004, 31004, 'replica', 0, false, true],
        [30002, 31002, 'master', 5462, false, true],
        [30003, 31003, 'master', 5461, false, true],
        [30001, 31001, 'master', 5461, false, true],
        [30005, 31005, 'master', 0, true, false],
      ],
    );
    assert.equal(nodes[0].masterId, 'e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca');
    assert.equal(nodes[1].masterId, undefined);
    assert.equal(nodes[1].host, '127.0.0.1');
    assert.equal(formatSlots(nodes[3].slots), '0-5459,5460');
    assert.equal(
      nodes.reduce((n, e) => n + slotCount(e), 0),
      16_384,
    );
  });

  test('parseInfo', () => {
    assert.deepEqual(parseInfo('# Cluster\r\ncluster_state:ok\r\ncluster_known_nodes:6\r\n'), {
      cluster_state: 'ok',
      cluster_known_nodes: '6',
    });
  });

  test('a failed probe check counts as "reachable, not ok"', () => {
    const err = checkFailed('cluster_state:fail');
    assert.equal(isRedisUnreachable(err), false);
    assert.equal(isPgUnreachable(err), false);
  });
});

describe('Postgres setup', () => {
  test('as root, the server runs as the postgres system user; without one, that is the problem', () => {
    const root = tmpDir();
    const libRoot = path.join(root, 'lib');
    touch(path.join(libRoot, '15', 'bin', 'initdb'));
    touch(path.join(libRoot, '15', 'bin', 'postgres'));
    touch(path.join(libRoot, '15', 'bin', 'pg_basebackup'));
    const passwd = path.join(root, 'passwd');
    fs.writeFileSync(passwd, 'postgres:x:101:104::/var/lib/postgresql:/bin/bash\n');
    const asRoot = findPostgresSetup({ pathEnv: '', libRoot, uid: 0, passwdFile: passwd });
    assert.deepEqual(asRoot.runAs, { name: 'postgres', uid: 101, gid: 104, home: '/var/lib/postgresql' });
    assert.equal(asRoot.bins.pgBasebackup, path.join(libRoot, '15', 'bin', 'pg_basebackup'));
    assert.equal(asRoot.problem, undefined);
    assert.equal(findPostgresSetup({ pathEnv: '', libRoot, uid: 1000, passwdFile: passwd }).runAs, undefined);
    const noUser = findPostgresSetup({ pathEnv: '', libRoot, uid: 0, passwdFile: path.join(root, 'none') });
    assert.equal(noUser.problem, 'root-without-postgres-user');
    assert.match(describePostgresSetupProblem(noUser), /initdb refuses to run as root.*\n.*useradd --system/);
    const nothing = findPostgresSetup({ pathEnv: '', libRoot: path.join(root, 'empty'), uid: 1000 });
    assert.equal(nothing.problem, 'no-binaries');
    assert.match(describePostgresSetupProblem(nothing, '/x'), /no Postgres server binaries .* in \/x\/\*\/bin/);
  });
});

describe('tools/services.mjs arguments', () => {
  test('a service, --json and --database', () => {
    assert.deepEqual(parseServicesArgs(['redis-cluster']), {
      help: false,
      service: 'redis-cluster',
      json: false,
      database: 'postgres',
    });
    assert.deepEqual(parseServicesArgs(['postgres-replica', '--json', '--database', 'wp_test_1']), {
      help: false,
      service: 'postgres-replica',
      json: true,
      database: 'wp_test_1',
    });
    assert.equal(parseServicesArgs(['--help']).help, true);
  });

  test('bad arguments say what is wrong', () => {
    assert.throws(() => parseServicesArgs([]), /name a service: redis-cluster or postgres-replica/);
    assert.throws(() => parseServicesArgs(['redis']), /unexpected argument "redis"/);
    assert.throws(() => parseServicesArgs(['redis-cluster', 'postgres-replica']), /unexpected argument/);
    assert.throws(() => parseServicesArgs(['postgres-replica', '--database', 'x;drop']), /--database needs a name/);
    assert.throws(() => parseServicesArgs(['postgres-replica', '--database']), /--database needs a name/);
  });
});
