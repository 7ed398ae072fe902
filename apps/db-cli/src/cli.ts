import { MultiBar, Presets, SingleBar } from 'cli-progress';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import {
  createDataSourceOptions,
  DatabaseNotEmptyError,
  ensureDatabaseExists,
  isDatabaseEmpty,
  parseSeedOptions,
  redactUrl,
  resetSchema,
  runMigrations,
  schemaStatus,
  seed,
  SeedOptions,
  SeedOptionsError,
  SeedProgress,
  SeedStep,
} from '@worker-pattern/db';

/**
 * db-cli: migrate, check, seed and reset the database. A thin shell: argument parsing, progress
 * display and exit codes live here; everything that touches the schema or data lives in
 * @worker-pattern/db. main.ts runs it with the process's arguments and environment.
 */

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/worker_pattern';
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const USAGE = `Usage: db-cli <command> [options]

Commands:
  migrate            apply pending migrations (one run at a time: they queue on an advisory lock)
      --check        apply nothing; exit 1 if this release has a migration the database lacks
                     (the apps' init containers run this, so no pod works on an older schema)
  seed [options]     apply pending migrations, then fill an empty database with demo data
      --users N      users, ids 1..N            (default 10000)
      --posts N      posts, at least one a user (default 200000)
      --follows N    follows, at least 5 a user (default 100000)
      --likes N      likes, at least 5 a user   (default 200000)
      --items N      items to like              (default 2000)
      --scale F      multiply every default size not given (0.1 = 1,000 users)
      --random-seed N  vary the generated data (same seed + sizes = same data)
      --celebrities K --celebrity-followers N
                     big accounts (default none): users 1..K each followed by N more users,
                     fans with ids after the regular users who follow only them (K × N ≤ 10,000,000)
      --if-empty     do nothing, successfully, when the database already has users
  reset              drop every table and migrate from scratch (refused when NODE_ENV=production)

Environment:
  DATABASE_URL       default ${DEFAULT_DATABASE_URL}; the database is created if missing
                     (not by migrate --check, which changes nothing)`;

const SEED_FLAGS = [
  'users',
  'posts',
  'follows',
  'likes',
  'items',
  'scale',
  'random-seed',
  'celebrities',
  'celebrity-followers',
] as const;

type Command =
  | { name: 'migrate'; check: boolean }
  | { name: 'reset' }
  | { name: 'seed'; options: SeedOptions; ifEmpty: boolean }
  | { name: 'help' };

class UsageError extends Error {}

function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        users: { type: 'string' },
        posts: { type: 'string' },
        follows: { type: 'string' },
        likes: { type: 'string' },
        items: { type: 'string' },
        scale: { type: 'string' },
        'random-seed': { type: 'string' },
        celebrities: { type: 'string' },
        'celebrity-followers': { type: 'string' },
        'if-empty': { type: 'boolean' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values['help']) {
    return { name: 'help' };
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length ? `expected one command, got: ${positionals.join(' ')}` : 'missing command',
    );
  }
  const [name] = positionals;
  const given = Object.keys(values).filter((key) => key !== 'help');
  if (name === 'migrate') {
    const other = given.filter((key) => key !== 'check');
    if (other.length) {
      throw new UsageError(`migrate takes only --check, got --${other.join(', --')}`);
    }
    return { name, check: values['check'] === true };
  }
  if (name === 'reset') {
    if (given.length) {
      throw new UsageError(`reset takes no options, got --${given.join(', --')}`);
    }
    return { name };
  }
  if (name !== 'seed') {
    throw new UsageError(`unknown command "${name}"`);
  }
  if (values['check']) {
    throw new UsageError('--check belongs to migrate');
  }
  const raw = Object.fromEntries(
    SEED_FLAGS.map((flag) => [flag, values[flag]]).filter(([, value]) => typeof value === 'string'),
  );
  try {
    return { name: 'seed', options: parseSeedOptions(raw), ifEmpty: values['if-empty'] === true };
  } catch (error) {
    if (error instanceof SeedOptionsError) {
      throw new UsageError(error.problems.map((problem) => `--${problem}`).join('\n'));
    }
    throw error;
  }
}

/** A bar per seed step on a terminal; one line per finished step otherwise (CI logs, pipes). */
function createProgress(): { onProgress: SeedProgress; stop(): void } {
  if (!process.stdout.isTTY) {
    return {
      onProgress: (step, done, total) => {
        if (done === total) console.log(`  ${step.padEnd(8)} ${total.toLocaleString('en-US')}`);
      },
      stop: () => undefined,
    };
  }
  const bars = new MultiBar(
    { format: '  {step} |{bar}| {percentage}% {value}/{total}', hideCursor: true, clearOnComplete: false },
    Presets.shades_classic,
  );
  const byStep = new Map<SeedStep, SingleBar>();
  return {
    onProgress: (step, done, total) => {
      const bar = byStep.get(step) ?? bars.create(total, 0, { step: step.padEnd(8) });
      byStep.set(step, bar);
      bar.update(done);
    },
    stop: () => bars.stop(),
  };
}

async function runSeed(dataSource: DataSource, command: Extract<Command, { name: 'seed' }>): Promise<void> {
  if (command.ifEmpty && !(await isDatabaseEmpty(dataSource))) {
    console.log('The database already has users: nothing to seed (--if-empty).');
    return;
  }
  const progress = createProgress();
  try {
    const result = await seed(dataSource, command.options, progress.onProgress);
    progress.stop();
    const sizes = (['users', 'posts', 'follows', 'likes', 'items'] as const).map(
      (size) => `${result[size].toLocaleString('en-US')} ${size}`,
    );
    if (result.celebrities > 0) {
      const first = result.users + 1;
      const last = result.users + result.celebrityFollowers;
      sizes.push(
        `${result.celebrities.toLocaleString('en-US')} big accounts (users 1..${result.celebrities}) followed by ` +
          `${result.celebrityFollowers.toLocaleString('en-US')} fans each (users ${first}..${last})`,
      );
    }
    console.log(`Seeded ${sizes.join(', ')} in ${(result.elapsedMs / 1000).toFixed(1)} s.`);
  } catch (error) {
    progress.stop();
    if (command.ifEmpty && error instanceof DatabaseNotEmptyError) {
      console.log('Another process seeded the database first: nothing to seed (--if-empty).');
      return;
    }
    throw error;
  }
}

/** Compares the database with this release's migrations; exit 1 when one it needs is missing. */
async function checkSchema(dataSource: DataSource, url: string): Promise<number> {
  const { pending, unknown } = await schemaStatus(dataSource);
  if (unknown.length) {
    console.log(`Applied by a newer release, unknown to this one: ${unknown.join(', ')}.`);
  }
  if (pending.length) {
    console.error(
      `db-cli: the schema of ${redactUrl(url)} lacks ${describe(pending)} that this release needs; run \`db-cli migrate\` (the migration Job of this release).`,
    );
    return EXIT_FAILURE;
  }
  console.log('The schema has every migration this release needs.');
  return 0;
}

/** Runs one command; returns the exit code. Unexpected failures (no database, say) throw. */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`db-cli: ${error.message}\n\n${USAGE}`);
      return EXIT_USAGE;
    }
    throw error;
  }
  if (command.name === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command.name === 'reset' && env['NODE_ENV'] === 'production') {
    console.error('db-cli: refusing to reset: NODE_ENV is production');
    return EXIT_FAILURE;
  }

  const url = env['DATABASE_URL'] || DEFAULT_DATABASE_URL;
  const started = Date.now();
  const check = command.name === 'migrate' && command.check;
  if (!check && (await ensureDatabaseExists(url))) {
    console.log(`Created database ${redactUrl(url)}`);
  }
  // Schema changes and the seed may legitimately run longer than the apps' statement timeout.
  const dataSource = new DataSource(
    createDataSourceOptions({ url, poolSize: 2, statementTimeoutMs: 0, applicationName: 'db-cli' }),
  );
  await dataSource.initialize();
  try {
    if (check) {
      return await checkSchema(dataSource, url);
    }
    if (command.name === 'reset') {
      console.log(`Reset ${redactUrl(url)}: dropped every table, applied ${describe(await resetSchema(dataSource))}.`);
    } else {
      const applied = await runMigrations(dataSource);
      console.log(applied.length ? `Applied ${describe(applied)}.` : 'No pending migrations.');
      if (command.name === 'seed') {
        await runSeed(dataSource, command);
      }
    }
  } finally {
    await dataSource.destroy();
  }
  console.log(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  return 0;
}

function describe(migrations: readonly string[]): string {
  return migrations.length ? `${migrations.length} migration(s): ${migrations.join(', ')}` : 'no migrations';
}
