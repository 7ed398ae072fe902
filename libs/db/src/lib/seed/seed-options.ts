import { z } from 'zod';

/** Sizes of the demo data set. Anything not given is `DEFAULT_SEED_SIZES × scale`. */
export interface SeedOptions {
  readonly users?: number;
  readonly posts?: number;
  readonly follows?: number;
  readonly likes?: number;
  readonly items?: number;
  /** Multiplies the default of every size not given explicitly (0.1 → 1,000 users). */
  readonly scale?: number;
  /** Salts every pseudo-random choice: the same seed and sizes give the same data. */
  readonly randomSeed?: number;
  /** Timestamps are spread over the years before this instant (default: now). */
  readonly now?: Date;
  /**
   * Big accounts (default none): users 1..celebrities each get `celebrityFollowers` extra followers,
   * "fan" users added after the regular ones, who follow the celebrities and do nothing else.
   */
  readonly celebrities?: number;
  readonly celebrityFollowers?: number;
}

/** Fully resolved and validated sizes. */
export interface SeedPlan {
  readonly users: number;
  readonly posts: number;
  readonly follows: number;
  readonly likes: number;
  readonly items: number;
  readonly randomSeed: number;
  readonly now: Date;
  /** 0 when there are none: then no fans either. */
  readonly celebrities: number;
  /** Fans: users `users + 1` .. `users + celebrityFollowers`, each following every celebrity. */
  readonly celebrityFollowers: number;
}

export type SeedSize = 'users' | 'posts' | 'follows' | 'likes' | 'items';

export const DEFAULT_SEED_SIZES: Readonly<Record<SeedSize, number>> = {
  users: 10_000,
  posts: 200_000,
  follows: 100_000,
  likes: 200_000,
  items: 2_000,
};

/** Every user follows at least this many others, so every feed has content. */
export const MIN_FOLLOWS_PER_USER = 5;
/** Every user likes at least this many items, so recommendations have something to go on. */
export const MIN_LIKES_PER_USER = 5;

const MAX_ID = 2_147_483_647;
/** Fan follows (celebrities × followers each) the seed writes at most: seconds, not minutes. */
export const MAX_CELEBRITY_FOLLOWS = 10_000_000;

/** The options do not describe a data set that meets the seed's guarantees. */
export class SeedOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid seed options: ${problems.join('; ')}`);
    this.name = 'SeedOptionsError';
  }
}

/**
 * Resolves sizes and checks they can meet the guarantees (every user posts, follows at least 5
 * users and likes at least 5 items; ids fit an int). Per-user maxima depend on the pseudo-random
 * spread and are checked again by the seed itself.
 */
export function resolveSeedPlan(options: SeedOptions = {}): SeedPlan {
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new SeedOptionsError([`scale must be a positive number, got ${scale}`]);
  }
  const problems: string[] = [];
  const size = (name: SeedSize): number => {
    const value = options[name] ?? Math.max(1, Math.round(DEFAULT_SEED_SIZES[name] * scale));
    if (!Number.isSafeInteger(value) || value < 1) {
      problems.push(`${name} must be a positive integer, got ${value}`);
    }
    return value;
  };
  const users = size('users');
  const posts = size('posts');
  const follows = size('follows');
  const likes = size('likes');
  const items = size('items');
  const randomSeed = options.randomSeed ?? 1;
  if (!Number.isSafeInteger(randomSeed) || randomSeed < 0 || randomSeed > MAX_ID) {
    problems.push(`randomSeed must be an integer in 0..${MAX_ID}, got ${randomSeed}`);
  }
  const now = options.now ?? new Date();
  if (Number.isNaN(now.getTime())) {
    problems.push('now must be a valid date');
  }
  if (problems.length) {
    throw new SeedOptionsError(problems);
  }

  if (users > MAX_ID) problems.push(`users must be at most ${MAX_ID} (ids are int)`);
  if (items > MAX_ID) problems.push(`items must be at most ${MAX_ID} (ids are int)`);
  if (users < MIN_FOLLOWS_PER_USER + 1) {
    problems.push(
      `users must be at least ${MIN_FOLLOWS_PER_USER + 1}, so everyone can follow ${MIN_FOLLOWS_PER_USER} others`,
    );
  }
  if (items < MIN_LIKES_PER_USER + 2) {
    problems.push(
      `items must be at least ${MIN_LIKES_PER_USER + 2}, so everyone likes ${MIN_LIKES_PER_USER} and has some left to discover`,
    );
  }
  if (posts < users) problems.push(`posts (${posts}) must be at least users (${users}): everyone posts at least once`);
  if (follows < users * MIN_FOLLOWS_PER_USER) {
    problems.push(
      `follows (${follows}) must be at least ${MIN_FOLLOWS_PER_USER} × users = ${users * MIN_FOLLOWS_PER_USER}`,
    );
  }
  if (follows > users * (users - 1)) {
    problems.push(`follows (${follows}) must be at most users × (users − 1) = ${users * (users - 1)}`);
  }
  if (likes < users * MIN_LIKES_PER_USER) {
    problems.push(`likes (${likes}) must be at least ${MIN_LIKES_PER_USER} × users = ${users * MIN_LIKES_PER_USER}`);
  }
  if (likes > users * (items - 2)) {
    problems.push(
      `likes (${likes}) must be at most users × (items − 2) = ${users * (items - 2)}, leaving everyone items to discover`,
    );
  }
  const { celebrities, celebrityFollowers } = celebritiesOf(options, users, problems);
  if (problems.length) {
    throw new SeedOptionsError(problems);
  }
  return { users, posts, follows, likes, items, randomSeed, now, celebrities, celebrityFollowers };
}

/** Both or neither; the celebrities are regular users, the fans fit the id range. */
function celebritiesOf(
  options: SeedOptions,
  users: number,
  problems: string[],
): { celebrities: number; celebrityFollowers: number } {
  const { celebrities = 0, celebrityFollowers = 0 } = options;
  if (celebrities === 0 && celebrityFollowers === 0) return { celebrities, celebrityFollowers };
  for (const [name, value] of [
    ['celebrities', celebrities],
    ['celebrityFollowers', celebrityFollowers],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) problems.push(`${name} must be a positive integer, got ${value}`);
  }
  if (problems.length) return { celebrities, celebrityFollowers };
  if (celebrities > users) problems.push(`celebrities (${celebrities}) must be at most users (${users})`);
  if (celebrities * celebrityFollowers > MAX_CELEBRITY_FOLLOWS) {
    problems.push(
      `celebrities × celebrityFollowers (${celebrities * celebrityFollowers}) must be at most ${MAX_CELEBRITY_FOLLOWS}`,
    );
  }
  if (users + celebrityFollowers > MAX_ID) problems.push(`users + celebrityFollowers must be at most ${MAX_ID}`);
  return { celebrities, celebrityFollowers };
}

const count = z
  .string()
  .regex(/^[1-9][0-9]*$/, 'must be a positive integer')
  .transform(Number)
  .refine(Number.isSafeInteger, 'is too large');
const scale = z
  .string()
  .regex(/^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/, 'must be a positive number')
  .transform(Number)
  .refine((value) => value > 0 && Number.isFinite(value), 'must be a positive number');

const rawSeedOptionsSchema = z
  .object({
    users: count.optional(),
    posts: count.optional(),
    follows: count.optional(),
    likes: count.optional(),
    items: count.optional(),
    scale: scale.optional(),
    'random-seed': count.optional(),
    celebrities: count.optional(),
    'celebrity-followers': count.optional(),
  })
  .strict();

/** Option name → raw string, as a command line gives them (`random-seed` is `randomSeed`). */
export type RawSeedOptions = Partial<
  Record<
    'users' | 'posts' | 'follows' | 'likes' | 'items' | 'scale' | 'random-seed' | 'celebrities' | 'celebrity-followers',
    string
  >
>;

/**
 * Seed options from strings (command-line flags). Strict: `1e3`, `-5`, `10k` are errors, not guesses.
 * Errors name the option, e.g. `users: must be a positive integer (got "ten")`.
 */
export function parseSeedOptions(raw: RawSeedOptions): SeedOptions {
  const defined = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined));
  const parsed = rawSeedOptionsSchema.safeParse(defined);
  if (!parsed.success) {
    throw new SeedOptionsError(
      parsed.error.issues.map((issue) => {
        const key = issue.path.join('.');
        if (issue.code === 'unrecognized_keys') return `unknown option(s): ${issue.keys.join(', ')}`;
        return `${key}: ${issue.message} (got ${JSON.stringify(defined[key])})`;
      }),
    );
  }
  const { 'random-seed': randomSeed, 'celebrity-followers': celebrityFollowers, ...sizes } = parsed.data;
  if ((sizes.celebrities === undefined) !== (celebrityFollowers === undefined)) {
    throw new SeedOptionsError(['celebrities and celebrity-followers go together: give both or neither']);
  }
  const options: SeedOptions = {
    ...sizes,
    ...(randomSeed === undefined ? {} : { randomSeed }),
    ...(celebrityFollowers === undefined ? {} : { celebrityFollowers }),
  };
  resolveSeedPlan(options);
  return options;
}
