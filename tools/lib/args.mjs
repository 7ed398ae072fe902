// Command-line parsing for tools/start.mjs. Pure: no I/O, no process access.
import { APPS } from './config.mjs';

export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

export const MAX_USERS = 10_000_000;
/** Replicas per app: enough to watch a queue spread over workers, few enough for one machine. */
export const MAX_REPLICAS = 16;
export const LOG_FORMATS = ['pretty', 'json'];

/** Breaks `text` at spaces into lines of at most `width` characters, continued after `indent`. */
function wrap(text, width, indent) {
  const lines = [''];
  for (const word of text.split(' ')) {
    if (lines.at(-1) && lines.at(-1).length + 1 + word.length > width) lines.push('');
    lines[lines.length - 1] += lines.at(-1) ? ` ${word}` : word;
  }
  return lines.join(`\n${indent}`);
}

export const USAGE = `Usage: npm start [-- <options>]        (same as: node tools/start.mjs [options])

Runs the whole worker-pattern system on this machine:
  1. finds Redis (REDIS_URL) and Postgres (DATABASE_URL); when one is not reachable and
     you did not set its URL, starts a throwaway local server (redis-server / initdb+postgres)
     in a temp dir, and removes it again on exit
  2. builds gateway, the four workers and db-cli with Nx
  3. runs db-cli migrate, then db-cli seed --if-empty
  4. runs the gateway (:3000) and the workers (profile, feed, recommendations, invalidation:
     :3001-3004), output prefixed per app,
     and prints the URL to open once the gateway is ready
  An app that exits on its own is restarted (after 0.5 s, doubling up to 15 s while it keeps
  crashing); the rest keep running. After 5 crashes in a row, each within 10 s of its start,
  the launcher gives up on that app and says so.
  Ctrl-C (or SIGTERM) stops everything cleanly; a second Ctrl-C kills at once.

Options:
  --users N         seed N demo users when the database is empty (passed to db-cli seed)
  --no-build        skip the Nx build and run what is already in dist/apps/
  --scale APP=N[,APP=N...]
                    run N replicas (1-${MAX_REPLICAS}) of an app, e.g. --scale feed-worker=3,gateway=2.
                    Replicas of a worker share its queue. Every process gets its own port,
                    counting up from 3000 in this order: the gateway replicas (3000, 3001, ...),
                    then each worker's replicas, so no two ever collide; all are printed.
                    Apps: ${wrap(APPS.map((a) => a.name).join(', '), 64, ' '.repeat(26))}
  --redis-cluster   start a throwaway Redis Cluster (3 masters, 3 replicas, on free ports) and
                    run every app on it: REDIS_CLUSTER_NODES instead of REDIS_URL
  --replica         start a throwaway Postgres primary and one streaming replica (free ports);
                    the apps get DATABASE_URL (primary) and DATABASE_REPLICA_URLS (the replica)
  --logs pretty|json
                    how app log lines are shown: pretty (pino-pretty, one line per entry) or
                    the apps' JSON lines as they are. Default: pretty when stdout is a terminal
  --services-only   only make sure Redis and Postgres are there (throwaway ones if needed),
                    print their URLs and wait for Ctrl-C; for running apps with nx serve.
                    Works with --redis-cluster and --replica
  -h, --help        print this help

Environment:
  REDIS_URL         default redis://127.0.0.1:6379
  DATABASE_URL      default postgres://postgres@127.0.0.1:5432/worker_pattern
                    When you set one of these and it is not reachable, the launcher stops
                    with an error instead of replacing it with a throwaway server.
  REDIS_CLUSTER_NODES  host:port,... of a Redis Cluster you run: the apps use it instead of
                    REDIS_URL (checked for cluster_state:ok first)
  NO_COLOR / FORCE_COLOR   turn the coloured [app] prefixes off / on

The throwaway servers alone, for test harnesses (one JSON line once up; stops on SIGTERM,
SIGINT or when its stdin closes):  node tools/services.mjs --help

Testing only (environment; not for everyday use):
  WP_START_REDIS_PROBE_URL     replaces the default Redis URL (still counts as "not set by you",
                               so a closed port here exercises the throwaway redis-server path)
  WP_START_DATABASE_PROBE_URL  the same for Postgres
  WP_START_PG_LIB_ROOT         where to look for <version>/bin/initdb (default /usr/lib/postgresql)
  WP_START_DIST_DIR            where the built apps are (default <repo>/dist/apps)
  WP_START_PORT_BASE           the first gateway's port; the other processes get the next
                               ones (default 3000)
  WP_START_STOP_TIMEOUT_MS     how long to wait for apps after SIGTERM before SIGKILL (default 30000)
`;

/**
 * Parses the launcher's arguments (process.argv.slice(2)).
 * @returns {{ help: boolean, build: boolean, users: number | undefined, servicesOnly: boolean,
 *   scale: Record<string, number>, redisCluster: boolean, replica: boolean, logs: 'pretty' | 'json' | undefined }}
 * @throws {UsageError} on an unknown flag, a missing or invalid value, or a positional argument.
 */
export function parseArgs(argv) {
  const opts = {
    help: false,
    build: true,
    users: undefined,
    servicesOnly: false,
    scale: {},
    redisCluster: false,
    replica: false,
    logs: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    // `--name value` or `--name=value`; advances past a separate value.
    const valueOf = (name, example) => {
      if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1);
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('-')) {
        throw new UsageError(`${name} needs a value, e.g. ${name} ${example}`);
      }
      i++;
      return value;
    };
    const is = (name) => arg === name || arg.startsWith(`${name}=`);
    if (arg === '-h' || arg === '--help') {
      opts.help = true;
    } else if (arg === '--no-build') {
      opts.build = false;
    } else if (arg === '--services-only') {
      opts.servicesOnly = true;
    } else if (arg === '--redis-cluster') {
      opts.redisCluster = true;
    } else if (arg === '--replica') {
      opts.replica = true;
    } else if (is('--users')) {
      opts.users = parseUsers(valueOf('--users', '2000'));
    } else if (is('--scale')) {
      Object.assign(opts.scale, parseScale(valueOf('--scale', 'feed-worker=3,gateway=2')));
    } else if (is('--logs')) {
      const value = valueOf('--logs', 'json');
      if (!LOG_FORMATS.includes(value)) {
        throw new UsageError(`--logs must be ${LOG_FORMATS.join(' or ')}, got "${value}"`);
      }
      opts.logs = value;
    } else if (arg.startsWith('-')) {
      const hint = suggest(arg, KNOWN);
      throw new UsageError(`unknown option ${arg}${hint ? ` (did you mean ${hint}?)` : ''}`);
    } else {
      throw new UsageError(`unexpected argument "${arg}" (the launcher takes only options)`);
    }
  }
  return opts;
}

function parseUsers(value) {
  if (!/^\d+$/.test(value)) {
    throw new UsageError(`--users must be a positive whole number, got "${value}"`);
  }
  const n = Number(value);
  if (n < 1 || n > MAX_USERS) {
    throw new UsageError(`--users must be between 1 and ${MAX_USERS}, got ${value}`);
  }
  return n;
}

/** `feed-worker=3,gateway=2` → { 'feed-worker': 3, gateway: 2 }. */
export function parseScale(value) {
  const names = APPS.map((a) => a.name);
  const scale = {};
  for (const part of value.split(',')) {
    const match = /^([^=\s]+)=(\S*)$/.exec(part.trim());
    if (!match) {
      throw new UsageError(
        `--scale takes APP=N pairs separated by commas, e.g. feed-worker=3,gateway=2; got "${part}"`,
      );
    }
    const [, name, count] = match;
    if (!names.includes(name)) {
      const hint = suggest(name, names);
      throw new UsageError(
        `--scale: unknown app "${name}"${hint ? ` (did you mean ${hint}?)` : ''}; apps: ${names.join(', ')}`,
      );
    }
    if (name in scale) throw new UsageError(`--scale names ${name} twice`);
    if (!/^\d+$/.test(count) || Number(count) < 1 || Number(count) > MAX_REPLICAS) {
      throw new UsageError(`--scale ${name} must be a whole number from 1 to ${MAX_REPLICAS}, got "${count}"`);
    }
    scale[name] = Number(count);
  }
  return scale;
}

const KNOWN = [
  '--help',
  '--no-build',
  '--users',
  '--services-only',
  '--scale',
  '--redis-cluster',
  '--replica',
  '--logs',
];

function suggest(arg, known) {
  const name = arg.split('=')[0];
  let best;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // Short names are close to everything: allow one edit per three characters, at most three.
  const limit = Math.min(3, Math.max(1, Math.floor(name.replace(/^-+/, '').length / 3)));
  return bestDistance <= limit ? best : undefined;
}

function editDistance(a, b) {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return dp[a.length][b.length];
}
