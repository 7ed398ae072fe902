/**
 * SQL expressions for deterministic pseudo-randomness. Each value is a hash of (key, salt), so it
 * does not depend on row order, parallel plans or chunk boundaries the way `setseed()` +
 * `random()` would: the same options always produce the same data.
 */

/** 2^53: the largest power of two below which every integer is exact in a float8. */
const FLOAT_MANTISSA = '9007199254740992';

/** A float in [0, 1) from hashing the bigint `key` with the bigint `salt` (both SQL expressions). */
export function sqlRandom(key: string, salt: string): string {
  return `((hashint8extended((${key})::bigint, (${salt})::bigint) & (${FLOAT_MANTISSA}::bigint - 1))::float8 / ${FLOAT_MANTISSA}::float8)`;
}

/** A float in [0, 1) from hashing the pair (`a`, `b`): the inner hash becomes the outer salt. */
export function sqlRandom2(a: string, b: string, salt: string): string {
  return sqlRandom(b, `hashint8extended((${a})::bigint, (${salt})::bigint)`);
}

/** A pseudo-random element of the text[] expression `array`. */
export function sqlPick(array: string, key: string, salt: string): string {
  return `(${array}::text[])[1 + floor(cardinality(${array}::text[]) * ${sqlRandom(key, salt)})::int]`;
}

/**
 * A step for the "ring" of likes: `r(k) = 1 + (k × step mod items)` must give distinct items for
 * any 4 consecutive k, which holds when step and items are coprime and items ≥ 4. Near the golden
 * ratio of `items`, so consecutive users' ring items sit far apart.
 */
export function ringStep(items: number): number {
  if (!Number.isSafeInteger(items) || items < 4) {
    throw new Error(`ringStep needs at least 4 items, got ${items}`);
  }
  let step = Math.max(1, Math.round(items * 0.618));
  while (gcd(step, items) !== 1) {
    step += 1;
  }
  return step;
}

export function gcd(a: number, b: number): number {
  let [x, y] = [Math.abs(a), Math.abs(b)];
  while (y) {
    [x, y] = [y, x % y];
  }
  return x;
}
