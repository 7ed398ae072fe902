import { DataSource, QueryRunner } from 'typeorm';
import { resolveSeedPlan, SeedOptions, SeedOptionsError, SeedPlan, SeedSize } from './seed-options';
import { ringStep } from './seed-random';
import {
  ADVANCE_SEQUENCES,
  createPlanTable,
  insertFanFollows,
  insertFans,
  insertFollows,
  insertItems,
  insertLikes,
  insertPosts,
  insertUsers,
  PlanColumn,
  planChunks,
  SEEDED_TABLES,
  SqlStatement,
} from './seed-sql';

/** `fans`: the followers of the big accounts (users and their follows), when asked for. */
export type SeedStep = SeedSize | 'fans' | 'analyze';
/** Called after every chunk: `done` of `total` rows of `step` are written. */
export type SeedProgress = (step: SeedStep, done: number, total: number) => void;

/** `users` and `follows` count the regular ones; fans and their follows come on top. */
export type SeedResult = Readonly<Record<SeedSize, number>> & {
  readonly celebrities: number;
  readonly celebrityFollowers: number;
  readonly elapsedMs: number;
};

/** The seed only ever fills an empty database: it never mixes demo rows into real ones. */
export class DatabaseNotEmptyError extends Error {
  constructor(readonly tables: readonly string[]) {
    super(`refusing to seed: the database is not empty (rows in ${tables.join(', ')}); reset it first`);
    this.name = 'DatabaseNotEmptyError';
  }
}

/** About 20 statements per table, each big enough to amortise its overhead: a bar that moves. */
function rowsPerChunk(total: number): number {
  return Math.min(50_000, Math.max(5_000, Math.ceil(total / 20)));
}

/** Serialises concurrent seeders (several processes starting at once with "seed if empty"). */
const SEED_LOCK_KEY = 0x5eed_0001;

/**
 * Fills an empty, migrated database with the demo data set in one transaction: either all of it
 * lands or none does, so a failed seed can simply be run again. Tables are then vacuumed and
 * analyzed so the first queries get good plans (and index-only scans).
 */
export async function seed(
  dataSource: DataSource,
  options: SeedOptions = {},
  onProgress: SeedProgress = () => undefined,
): Promise<SeedResult> {
  const started = Date.now();
  const plan = resolveSeedPlan(options);
  if (await dataSource.showMigrations()) {
    throw new Error('refusing to seed: migrations are pending; run them first');
  }
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.startTransaction();
    try {
      // A batch job: no statement timeout (also while waiting for a concurrent seeder), no wait for
      // each WAL flush, room to sort in memory. No JIT: generate_series makes the planner
      // overestimate rows, and compiling cost more than running the chunk.
      await runner.query(`SET LOCAL statement_timeout = 0`);
      await runner.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK_KEY]);
      await assertEmpty(runner);
      await runner.query(`SET LOCAL synchronous_commit = off`);
      await runner.query(`SET LOCAL work_mem = '64MB'`);
      await runner.query(`SET LOCAL jit = off`);
      await fillTables(runner, plan, onProgress);
      await runner.commitTransaction();
    } catch (error) {
      await runner.rollbackTransaction();
      throw error;
    }
  } finally {
    await runner.release();
  }
  onProgress('analyze', 0, 1);
  await vacuumAnalyze(dataSource);
  onProgress('analyze', 1, 1);
  const { users, posts, follows, likes, items, celebrities, celebrityFollowers } = plan;
  return { users, posts, follows, likes, items, celebrities, celebrityFollowers, elapsedMs: Date.now() - started };
}

/**
 * Fresh statistics for good first plans, and a visibility map for index-only scans (the profile's
 * counts). VACUUM cannot run in a transaction, hence after the commit, on its own connection.
 */
async function vacuumAnalyze(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.query('SET statement_timeout = 0');
    await runner.query(`VACUUM (ANALYZE) ${SEEDED_TABLES.join(', ')}`);
  } finally {
    // Pooled connection: leave it with the session defaults it came with.
    await runner.query('RESET statement_timeout').catch(() => undefined);
    await runner.release();
  }
}

async function assertEmpty(runner: QueryRunner): Promise<void> {
  const checks = SEEDED_TABLES.map((table) => `SELECT '${table}' AS name WHERE EXISTS (SELECT 1 FROM ${table})`);
  const rows: Array<{ name: string }> = await runner.query(checks.join(' UNION ALL '));
  if (rows.length) {
    throw new DatabaseNotEmptyError(rows.map((row) => row.name));
  }
}

/**
 * The bulk-load trick: checking keys and growing indexes row by row costs more than generating
 * the rows. Drop them (as the catalog defines them, so nothing here can drift from the migrations)
 * and restore them once the data is in: one sort per index, one validating join per foreign key,
 * and a duplicate row would still fail the restored primary key. Inside the seed's transaction,
 * so a failure restores them too.
 */
async function dropKeysAndIndexes(runner: QueryRunner): Promise<string[]> {
  const tables = `ARRAY[${SEEDED_TABLES.map((table) => `'${table}'`).join(', ')}]::regclass[]`;
  // Foreign keys first (they depend on the referenced primary keys), then primary and unique keys.
  const keys: Array<{ table_name: string; name: string; definition: string }> = await runner.query(`
    SELECT conrelid::regclass::text AS table_name, quote_ident(conname) AS name, pg_get_constraintdef(oid) AS definition
      FROM pg_constraint
     WHERE contype IN ('f', 'p', 'u') AND conrelid = ANY (${tables})
     ORDER BY contype = 'f' DESC, 1, 2`);
  const indexes: Array<{ name: string; definition: string }> = await runner.query(`
    SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS definition
      FROM pg_index
     WHERE indrelid = ANY (${tables})
       AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)
     ORDER BY 1`);
  for (const key of keys) {
    await runner.query(`ALTER TABLE ${key.table_name} DROP CONSTRAINT ${key.name}`);
  }
  for (const index of indexes) {
    await runner.query(`DROP INDEX ${index.name}`);
  }
  return [
    ...[...keys].reverse().map((key) => `ALTER TABLE ${key.table_name} ADD CONSTRAINT ${key.name} ${key.definition}`),
    ...indexes.map((index) => index.definition),
  ];
}

async function fillTables(runner: QueryRunner, plan: SeedPlan, onProgress: SeedProgress): Promise<void> {
  const restore = await dropKeysAndIndexes(runner);
  await execute(runner, createPlanTable(plan));
  await runner.query('ALTER TABLE seed_plan ADD PRIMARY KEY (user_id)');
  await runner.query('ANALYZE seed_plan');
  await assertPlanFits(runner, plan);

  await fillByUser(runner, 'users', plan.users, (lo, hi) => insertUsers(plan, lo, hi), onProgress);
  await fillItems(runner, plan, onProgress);
  await fillByUser(runner, 'posts', plan.posts, (lo, hi) => insertPosts(plan, lo, hi), onProgress);
  await fillByUser(runner, 'follows', plan.follows, (lo, hi) => insertFollows(plan, lo, hi), onProgress);
  const step = ringStep(plan.items);
  await fillByUser(runner, 'likes', plan.likes, (lo, hi) => insertLikes(plan, step, lo, hi), onProgress);
  if (plan.celebrities > 0) await fillFans(runner, plan, onProgress);
  await runner.query(ADVANCE_SEQUENCES);
  for (const statement of restore) {
    await runner.query(statement);
  }
}

/** The plan spreads rows pseudo-randomly; make sure nobody got more than there is to follow or like. */
async function assertPlanFits(runner: QueryRunner, plan: SeedPlan): Promise<void> {
  const [row]: Array<{ follows: number; likes: number }> = await runner.query(
    'SELECT max(follows) AS follows, max(likes) AS likes FROM seed_plan',
  );
  const problems: string[] = [];
  if (row.follows > plan.users - 1) {
    problems.push(
      `follows: one user would follow ${row.follows} of only ${plan.users - 1} others; lower follows or raise users`,
    );
  }
  if (row.likes > plan.items - 2) {
    problems.push(
      `likes: one user would like ${row.likes} of ${plan.items} items, leaving fewer than 2 to discover; lower likes or raise items`,
    );
  }
  if (problems.length) {
    throw new SeedOptionsError(problems);
  }
}

async function fillByUser(
  runner: QueryRunner,
  step: PlanColumn | 'users',
  total: number,
  statement: (lo: number, hi: number) => SqlStatement,
  onProgress: SeedProgress,
): Promise<void> {
  const chunks: Array<{ lo: number; hi: number; rows: string }> = await execute(
    runner,
    planChunks(step, rowsPerChunk(total)),
  );
  let done = 0;
  onProgress(step, done, total);
  for (const chunk of chunks) {
    const expected = Number(chunk.rows);
    await insertExactly(runner, step, statement(chunk.lo, chunk.hi), expected);
    done += expected;
    onProgress(step, done, total);
  }
  if (done !== total) {
    throw new Error(`seed bug: planned ${done} ${step}, asked for ${total}`);
  }
}

async function fillItems(runner: QueryRunner, plan: SeedPlan, onProgress: SeedProgress): Promise<void> {
  onProgress('items', 0, plan.items);
  const size = rowsPerChunk(plan.items);
  for (let lo = 1; lo <= plan.items; lo += size) {
    const hi = Math.min(plan.items, lo + size - 1);
    await insertExactly(runner, 'items', insertItems(plan, lo, hi), hi - lo + 1);
    onProgress('items', hi, plan.items);
  }
}

/** The big accounts' followers: set-based, in chunks of fans (a million in seconds: no keys yet). */
async function fillFans(runner: QueryRunner, plan: SeedPlan, onProgress: SeedProgress): Promise<void> {
  const total = plan.celebrityFollowers;
  const size = Math.max(1, Math.floor(rowsPerChunk(total * plan.celebrities) / plan.celebrities));
  onProgress('fans', 0, total);
  for (let lo = 1; lo <= total; lo += size) {
    const hi = Math.min(total, lo + size - 1);
    await insertExactly(runner, 'fans', insertFans(plan, plan.users + lo, plan.users + hi), hi - lo + 1);
    const follows = insertFanFollows(plan, plan.users + lo, plan.users + hi);
    await insertExactly(runner, 'fan follows', follows, (hi - lo + 1) * plan.celebrities);
    onProgress('fans', hi, total);
  }
}

/** A chunk that inserts fewer rows than planned would silently break the seed's guarantees. */
async function insertExactly(
  runner: QueryRunner,
  table: string,
  statement: SqlStatement,
  expected: number,
): Promise<void> {
  const result = await runner.query(statement.sql, [...statement.params], true);
  if (result.affected !== expected) {
    throw new Error(`seed bug: inserted ${result.affected ?? 0} ${table}, planned ${expected}`);
  }
}

function execute<T>(runner: QueryRunner, statement: SqlStatement): Promise<T> {
  return runner.query(statement.sql, [...statement.params]);
}
