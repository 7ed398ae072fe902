// Unit tests for the launcher's pure parts (tools/lib/*). No Redis, Postgres or build needed.
// Run: node --test tools/start.spec.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { MAX_USERS, USAGE, UsageError, parseArgs } from './lib/args.mjs';
import {
  compareVersionsDesc,
  findExecutable,
  findPostgresBinaries,
  lookupSystemUser,
  parsePasswd,
} from './lib/binaries.mjs';
import {
  APPS,
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
  redactUrl,
  resolveServiceConfig,
} from './lib/config.mjs';
import { findFreePort, isPortFree } from './lib/ports.mjs';
import { createLineSplitter, createPrefixer, formatPrefix, shouldUseColor } from './lib/prefix.mjs';
import { isPgUnreachable, isRedisUnreachable, probePostgres, probeRedis } from './lib/probes.mjs';
import { describeExit, startChild } from './lib/procs.mjs';

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
  test('defaults', () => {
    assert.deepEqual(parseArgs([]), { help: false, build: true, users: undefined, servicesOnly: false });
  });

  test('flags', () => {
    assert.equal(parseArgs(['--help']).help, true);
    assert.equal(parseArgs(['-h']).help, true);
    assert.equal(parseArgs(['--no-build']).build, false);
    assert.equal(parseArgs(['--services-only']).servicesOnly, true);
    assert.equal(parseArgs(['--users', '2000']).users, 2000);
    assert.equal(parseArgs(['--users=1']).users, 1);
    assert.deepEqual(parseArgs(['--no-build', '--users', '5', '--services-only']), {
      help: false,
      build: false,
      users: 5,
      servicesOnly: true,
    });
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

  test('positional arguments are errors', () => {
    rejects(['gateway'], /unexpected argument "gateway"/);
  });

  test('usage documents every option and the testing hooks', () => {
    for (const word of [
      '--users',
      '--no-build',
      '--services-only',
      '--help',
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

  test('apps, ports and build projects', () => {
    assert.deepEqual(
      APPS.map((a) => [a.name, 3000 + a.offset]),
      [
        ['gateway', 3000],
        ['profile-worker', 3001],
        ['feed-worker', 3002],
        ['recommendations-worker', 3003],
        ['invalidation-worker', 3004],
      ],
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
