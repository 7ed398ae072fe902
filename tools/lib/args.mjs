// Command-line parsing for tools/start.mjs. Pure: no I/O, no process access.

export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

export const MAX_USERS = 10_000_000;

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
  Ctrl-C (or SIGTERM) stops everything cleanly; a second Ctrl-C kills at once.

Options:
  --users N         seed N demo users when the database is empty (passed to db-cli seed)
  --no-build        skip the Nx build and run what is already in dist/apps/
  --services-only   only make sure Redis and Postgres are there (throwaway ones if needed),
                    print their URLs and wait for Ctrl-C; for running apps with nx serve
  -h, --help        print this help

Environment:
  REDIS_URL         default redis://127.0.0.1:6379
  DATABASE_URL      default postgres://postgres@127.0.0.1:5432/worker_pattern
                    When you set one of these and it is not reachable, the launcher stops
                    with an error instead of replacing it with a throwaway server.
  NO_COLOR / FORCE_COLOR   turn the coloured [app] prefixes off / on

Testing only (environment; not for everyday use):
  WP_START_REDIS_PROBE_URL     replaces the default Redis URL (still counts as "not set by you",
                               so a closed port here exercises the throwaway redis-server path)
  WP_START_DATABASE_PROBE_URL  the same for Postgres
  WP_START_PG_LIB_ROOT         where to look for <version>/bin/initdb (default /usr/lib/postgresql)
  WP_START_DIST_DIR            where the built apps are (default <repo>/dist/apps)
  WP_START_PORT_BASE           gateway port; the workers get the next three (default 3000)
  WP_START_STOP_TIMEOUT_MS     how long to wait for apps after SIGTERM before SIGKILL (default 30000)
`;

/**
 * Parses the launcher's arguments (process.argv.slice(2)).
 * @returns {{ help: boolean, build: boolean, users: number | undefined, servicesOnly: boolean }}
 * @throws {UsageError} on an unknown flag, a missing or invalid value, or a positional argument.
 */
export function parseArgs(argv) {
  const opts = { help: false, build: true, users: undefined, servicesOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      opts.help = true;
    } else if (arg === '--no-build') {
      opts.build = false;
    } else if (arg === '--services-only') {
      opts.servicesOnly = true;
    } else if (arg === '--users' || arg.startsWith('--users=')) {
      let value;
      if (arg === '--users') {
        value = argv[i + 1];
        if (value === undefined || value.startsWith('-')) {
          throw new UsageError('--users needs a value, e.g. --users 2000');
        }
        i++;
      } else {
        value = arg.slice('--users='.length);
      }
      opts.users = parseUsers(value);
    } else if (arg.startsWith('-')) {
      const hint = suggest(arg);
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

const KNOWN = ['--help', '--no-build', '--users', '--services-only'];

function suggest(arg) {
  const name = arg.split('=')[0];
  let best;
  let bestDistance = Infinity;
  for (const known of KNOWN) {
    const d = editDistance(name, known);
    if (d < bestDistance) {
      best = known;
      bestDistance = d;
    }
  }
  return bestDistance <= 3 ? best : undefined;
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
