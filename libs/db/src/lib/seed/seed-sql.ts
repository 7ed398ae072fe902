import { SeedPlan, MIN_FOLLOWS_PER_USER, MIN_LIKES_PER_USER } from './seed-options';
import { sqlPick, sqlRandom, sqlRandom2 } from './seed-random';
import { SEED_VOCABULARY } from './seed-vocabulary';

/**
 * The seed's SQL: every row is generated inside Postgres (generate_series + hashing), never sent
 * row by row from Node. Statements that fill a table take a user range (`$1`..`$2`), so the seed
 * can run them in chunks and report progress between them.
 */
export interface SqlStatement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** Distinct salts per purpose, so e.g. a user's name and bio are independent choices. */
const Salt = {
  FollowWeight: 1,
  LikeWeight: 2,
  PostWeight: 3,
  Joined: 4,
  FirstName: 5,
  LastName: 6,
  HandleStyle: 7,
  Role: 8,
  Place: 9,
  Interest: 10,
  HasBio: 11,
  ItemTitleArticle: 12,
  ItemAdjective: 13,
  ItemNoun: 14,
  ItemCategory: 15,
  ItemAge: 16,
  PostOpener: 17,
  PostAdjective: 18,
  PostNoun: 19,
  PostCloser: 20,
  PostAge: 21,
  FolloweePick: 22,
  FollowAge: 23,
  LikePick: 24,
  LikeAge: 25,
} as const;

/** Salt expression for a purpose; `$n` is the statement's random-seed parameter. */
function salt(param: string, purpose: (typeof Salt)[keyof typeof Salt]): string {
  return `(${param}::bigint * 1000 + ${purpose})`;
}

/** Users join over three years, in id order with jitter, the newest a month before `now`. */
const JOIN_WINDOW = `interval '1065 days'`;

/**
 * One row per user with how many posts, follows and likes they get. The extra rows above each
 * minimum are spread in proportion to pseudo-random weights with `div(extra × cumulative, total)`:
 * the floors telescope, so the totals are exact. Posts get a heavy tail (a few prolific authors).
 */
export function createPlanTable(plan: SeedPlan): SqlStatement {
  const s = '$2';
  return {
    sql: `
      CREATE TEMP TABLE seed_plan ON COMMIT DROP AS
      WITH weights AS (
        SELECT g AS user_id,
               100 + floor(200 * ${sqlRandom('g', salt(s, Salt.FollowWeight))})::bigint AS follow_weight,
               100 + floor(300 * ${sqlRandom('g', salt(s, Salt.LikeWeight))} ^ 2)::bigint AS like_weight,
               floor(1000 / (0.02 + ${sqlRandom('g', salt(s, Salt.PostWeight))}))::bigint AS post_weight,
               ${sqlRandom('g', salt(s, Salt.Joined))} AS joined_jitter
          FROM generate_series(1, $1::int) AS g
      ), running AS (
        SELECT weights.*,
               sum(follow_weight) OVER upto AS follow_cum, sum(follow_weight) OVER () AS follow_total,
               sum(like_weight) OVER upto AS like_cum, sum(like_weight) OVER () AS like_total,
               sum(post_weight) OVER upto AS post_cum, sum(post_weight) OVER () AS post_total
          FROM weights
        WINDOW upto AS (ORDER BY user_id)
      )
      SELECT user_id,
             ($3::int + div($4::numeric * follow_cum, follow_total)
                      - div($4::numeric * (follow_cum - follow_weight), follow_total))::int AS follows,
             ($5::int + div($6::numeric * like_cum, like_total)
                      - div($6::numeric * (like_cum - like_weight), like_total))::int AS likes,
             (1 + div($7::numeric * post_cum, post_total)
                - div($7::numeric * (post_cum - post_weight), post_total))::int AS posts,
             ((user_id - 1) + div($7::numeric * (post_cum - post_weight), post_total))::bigint AS posts_before,
             $8::timestamptz - interval '3 years'
               + ((user_id - 1 + joined_jitter) / $1::int) * ${JOIN_WINDOW} AS joined_at
        FROM running`,
    params: [
      plan.users,
      plan.randomSeed,
      MIN_FOLLOWS_PER_USER,
      plan.follows - plan.users * MIN_FOLLOWS_PER_USER,
      MIN_LIKES_PER_USER,
      plan.likes - plan.users * MIN_LIKES_PER_USER,
      plan.posts - plan.users,
      plan.now,
    ],
  };
}

export type PlanColumn = 'posts' | 'follows' | 'likes';

/**
 * Splits users into consecutive ranges holding about `rowsPerChunk` rows of `column` each (one row
 * per user for the users table), with the exact row count of each range.
 */
export function planChunks(column: PlanColumn | 'users', rowsPerChunk: number): SqlStatement {
  const rows = column === 'users' ? '1' : column;
  return {
    sql: `
      SELECT min(user_id)::int AS lo, max(user_id)::int AS hi, sum(rows)::bigint AS rows
        FROM (SELECT user_id, ${rows} AS rows,
                     floor((sum(${rows}) OVER (ORDER BY user_id) - ${rows}) / $1::numeric) AS chunk
                FROM seed_plan) AS numbered
       GROUP BY chunk
       ORDER BY chunk`,
    params: [rowsPerChunk],
  };
}

export function insertUsers(plan: SeedPlan, lo: number, hi: number): SqlStatement {
  const s = '$3';
  const v = SEED_VOCABULARY;
  return {
    sql: `
      INSERT INTO users (id, handle, display_name, bio, created_at)
      SELECT user_id,
             CASE WHEN style < 0.5 THEN lower(first_name) || '_' || lower(last_name) || '_' || user_id
                  WHEN style < 0.8 THEN lower(first_name) || lower(last_name) || user_id
                  ELSE lower(left(first_name, 1)) || lower(last_name) || '_' || user_id
             END,
             first_name || ' ' || last_name,
             CASE WHEN has_bio THEN role || ' in ' || place || '. ' || interest || '.' ELSE '' END,
             joined_at
        FROM (SELECT user_id, joined_at,
                     ${sqlPick('$4', 'user_id', salt(s, Salt.FirstName))} AS first_name,
                     ${sqlPick('$5', 'user_id', salt(s, Salt.LastName))} AS last_name,
                     ${sqlRandom('user_id', salt(s, Salt.HandleStyle))} AS style,
                     ${sqlPick('$6', 'user_id', salt(s, Salt.Role))} AS role,
                     ${sqlPick('$7', 'user_id', salt(s, Salt.Place))} AS place,
                     ${sqlPick('$8', 'user_id', salt(s, Salt.Interest))} AS interest,
                     ${sqlRandom('user_id', salt(s, Salt.HasBio))} >= 0.15 AS has_bio
                FROM seed_plan
               WHERE user_id BETWEEN $1 AND $2) AS u
       ORDER BY user_id`,
    params: [lo, hi, plan.randomSeed, v.firstNames, v.lastNames, v.roles, v.places, v.interests],
  };
}

export function insertItems(plan: SeedPlan, lo: number, hi: number): SqlStatement {
  const s = '$3';
  const v = SEED_VOCABULARY;
  return {
    sql: `
      INSERT INTO items (id, title, category, created_at)
      SELECT g,
             CASE WHEN ${sqlRandom('g', salt(s, Salt.ItemTitleArticle))} < 0.3 THEN 'The ' ELSE '' END
               || ${sqlPick('$4', 'g', salt(s, Salt.ItemAdjective))} || ' ' || ${sqlPick('$5', 'g', salt(s, Salt.ItemNoun))},
             ${sqlPick('$6', 'g', salt(s, Salt.ItemCategory))},
             $7::timestamptz - ${sqlRandom('g', salt(s, Salt.ItemAge))} * interval '1000 days'
        FROM generate_series($1::int, $2::int) AS g`,
    params: [lo, hi, plan.randomSeed, v.titleAdjectives, v.titleNouns, v.categories, plan.now],
  };
}

/**
 * Post ids are `posts_before + n`, so they are 1..posts in user order whatever the chunking.
 * Timestamps lean towards the present (sqrt), as real activity does.
 */
export function insertPosts(plan: SeedPlan, lo: number, hi: number): SqlStatement {
  const s = '$3';
  const v = SEED_VOCABULARY;
  return {
    sql: `
      INSERT INTO posts (id, author_id, body, created_at)
      SELECT post_id, user_id,
             ${sqlPick('$4', 'post_id', salt(s, Salt.PostOpener))} || ' the '
               || ${sqlPick('$5', 'post_id', salt(s, Salt.PostAdjective))} || ' '
               || ${sqlPick('$6', 'post_id', salt(s, Salt.PostNoun))}
               || ${sqlPick('$7', 'post_id', salt(s, Salt.PostCloser))},
             joined_at + sqrt(${sqlRandom('post_id', salt(s, Salt.PostAge))}) * ($8::timestamptz - joined_at)
        FROM (SELECT p.posts_before + n AS post_id, p.user_id, p.joined_at
                FROM seed_plan AS p
               CROSS JOIN LATERAL generate_series(1, p.posts) AS n
               WHERE p.user_id BETWEEN $1 AND $2) AS planned
       ORDER BY post_id`,
    params: [lo, hi, plan.randomSeed, v.postOpeners, v.titleAdjectives, v.titleNouns, v.postClosers, plan.now],
  };
}

/** Candidate priority for the guaranteed fallbacks: after every pseudo-random pick. */
const FALLBACK = 1_000_000_000;

/**
 * Each user follows exactly their planned number of others. Pseudo-random picks lean quadratically
 * towards low ids (a few popular accounts); duplicates and self-follows are dropped, and the
 * fallback candidates (the next users round the ring) guarantee enough distinct followees.
 */
export function insertFollows(plan: SeedPlan, lo: number, hi: number): SqlStatement {
  const s = '$4';
  return {
    sql: `
      INSERT INTO follows (follower_id, followee_id, created_at)
      SELECT follower_id, followee_id,
             $5::timestamptz - ${sqlRandom2('follower_id', 'followee_id', salt(s, Salt.FollowAge))} * ($5::timestamptz - joined_at)
        FROM (SELECT c.follower_id, c.followee_id, p.follows AS quota, p.joined_at,
                     row_number() OVER (PARTITION BY c.follower_id ORDER BY min(c.priority), c.followee_id) AS rank
                FROM (SELECT p.user_id AS follower_id,
                             1 + floor($3::int * ${sqlRandom2('p.user_id', 'j', salt(s, Salt.FolloweePick))} ^ 2)::int AS followee_id,
                             j AS priority
                        FROM seed_plan AS p
                       CROSS JOIN LATERAL generate_series(1, p.follows + p.follows / 2 + 5) AS j
                       WHERE p.user_id BETWEEN $1 AND $2
                      UNION ALL
                      SELECT p.user_id, 1 + ((p.user_id - 1 + j) % $3::int), ${FALLBACK} + j
                        FROM seed_plan AS p
                       CROSS JOIN LATERAL generate_series(1, p.follows) AS j
                       WHERE p.user_id BETWEEN $1 AND $2) AS c
                JOIN seed_plan AS p ON p.user_id = c.follower_id
               WHERE c.follower_id <> c.followee_id
               GROUP BY c.follower_id, c.followee_id, p.follows, p.joined_at) AS ranked
       WHERE rank <= quota
       ORDER BY follower_id, followee_id`,
    params: [lo, hi, plan.users, plan.randomSeed, plan.now],
  };
}

/**
 * Each user likes exactly their planned number of items. Two likes come from a ring: user u likes
 * r(u) and r(u+1), so neighbours share an item, and u never likes r(u−1) or r(u+2), which its
 * neighbours do. That guarantees every user a similar user with an item left to recommend. The
 * rest lean towards low ids (popular items, power 2.2), with round-robin fallbacks for exact counts.
 */
export function insertLikes(plan: SeedPlan, ringStep: number, lo: number, hi: number): SqlStatement {
  const s = '$5';
  const ring = (k: string) => `(1 + ((${k})::bigint * $4::bigint) % $3::int)::int`;
  return {
    sql: `
      INSERT INTO likes (user_id, item_id, created_at)
      SELECT user_id, item_id,
             $6::timestamptz - ${sqlRandom2('user_id', 'item_id', salt(s, Salt.LikeAge))} * ($6::timestamptz - joined_at)
        FROM (SELECT c.user_id, c.item_id, p.likes AS quota, p.joined_at,
                     row_number() OVER (PARTITION BY c.user_id ORDER BY min(c.priority), c.item_id) AS rank
                FROM (SELECT p.user_id, ${ring('p.user_id')} AS item_id, 0 AS priority
                        FROM seed_plan AS p WHERE p.user_id BETWEEN $1 AND $2
                      UNION ALL
                      SELECT p.user_id, ${ring('p.user_id + 1')}, 0
                        FROM seed_plan AS p WHERE p.user_id BETWEEN $1 AND $2
                      UNION ALL
                      SELECT p.user_id,
                             1 + floor($3::int * ${sqlRandom2('p.user_id', 'j', salt(s, Salt.LikePick))} ^ 2.2)::int,
                             j
                        FROM seed_plan AS p
                       CROSS JOIN LATERAL generate_series(1, 2 * p.likes + 5) AS j
                       WHERE p.user_id BETWEEN $1 AND $2
                      UNION ALL
                      SELECT p.user_id, (1 + (p.user_id::bigint * 7 + j) % $3::int)::int, ${FALLBACK} + j
                        FROM seed_plan AS p
                       CROSS JOIN LATERAL generate_series(1, least(p.likes + 5, $3::int)) AS j
                       WHERE p.user_id BETWEEN $1 AND $2) AS c
                JOIN seed_plan AS p ON p.user_id = c.user_id
               WHERE c.item_id NOT IN (${ring('c.user_id - 1')}, ${ring('c.user_id + 2')})
               GROUP BY c.user_id, c.item_id, p.likes, p.joined_at) AS ranked
       WHERE rank <= quota
       ORDER BY user_id, item_id`,
    params: [lo, hi, plan.items, ringStep, plan.randomSeed, plan.now],
  };
}

/**
 * Fans `$1..$2` (ids after the regular users): they joined a month before `now`, follow the
 * celebrities, and do nothing else. Their handles (`fan_<id>`) cannot meet a regular one, which
 * carries a regular user's (smaller) id.
 */
export function insertFans(plan: SeedPlan, lo: number, hi: number): SqlStatement {
  return {
    sql: `
      INSERT INTO users (id, handle, display_name, bio, created_at)
      SELECT g, 'fan_' || g, 'Fan ' || (g - $3::int), '', $4::timestamptz - interval '30 days'
        FROM generate_series($1::int, $2::int) AS g`,
    params: [lo, hi, plan.users, plan.now],
  };
}

/** Fans `$1..$2` each follow celebrities 1..`$3`, since a day before `now`. */
export function insertFanFollows(plan: SeedPlan, lo: number, hi: number): SqlStatement {
  return {
    sql: `
      INSERT INTO follows (follower_id, followee_id, created_at)
      SELECT fan, celebrity, $4::timestamptz - interval '1 day'
        FROM generate_series($1::int, $2::int) AS fan
       CROSS JOIN generate_series(1, $3::int) AS celebrity`,
    params: [lo, hi, plan.celebrities, plan.now],
  };
}

/** Later inserts (writes) take ids from the sequences: move them past the seeded ids. */
export const ADVANCE_SEQUENCES = `
  SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users)),
         setval(pg_get_serial_sequence('posts', 'id'), (SELECT max(id) FROM posts)),
         setval(pg_get_serial_sequence('items', 'id'), (SELECT max(id) FROM items))`;

export const SEEDED_TABLES = ['users', 'items', 'posts', 'follows', 'likes'] as const;
