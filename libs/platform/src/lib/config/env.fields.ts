import { z } from 'zod';

/**
 * Field builders for environment variables. Every value arrives as a string (or not at all), so each
 * builder takes a string and says, in one phrase, what a good value looks like: that phrase is what
 * `validateEnv` prints next to the variable's name. Empty strings are treated as unset before parsing.
 */

const REQUIRED = 'is required';

/** One message for every way a present value can be wrong; "is required" when it is missing. */
function problemOr(problem: string) {
  return (issue: { input?: unknown }): string => (issue.input === undefined ? REQUIRED : problem);
}

/**
 * A decimal integer in [min, max]. Strict: digits only, so "12abc", "1e3", "0x10", " 7" and "-1" are
 * rejected rather than half-parsed the way `parseInt` or `Number` would.
 */
export function envInt(min: number, max: number) {
  const problem = `must be an integer between ${min} and ${max}`;
  return z
    .string({ error: problemOr(problem) })
    .regex(/^\d{1,16}$/, { error: problem })
    .transform(Number)
    .pipe(z.number().int().min(min, { error: problem }).max(max, { error: problem }));
}

/** One of a fixed set of values, compared exactly (case-sensitive). */
export function envEnum<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: problemOr(`must be one of ${values.join(', ')}`) });
}

/** A non-empty string, optionally matching a pattern that `problem` describes. */
export function envString(pattern?: RegExp, problem = 'must be a non-empty string') {
  const base = z.string({ error: problemOr(problem) }).min(1, { error: problem });
  return pattern ? base.regex(pattern, { error: problem }) : base;
}

/** A URL whose scheme is one of `schemes` (without "://"); kept as the string the operator gave. */
export function envUrl(schemes: readonly [string, ...string[]]) {
  const problem = `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`;
  return z.url({ protocol: new RegExp(`^(${schemes.join('|')})$`), error: problemOr(problem) });
}

/** "true"/"false" (or "1"/"0"); anything else is an error rather than a silent false. */
export function envBoolean() {
  const problem = 'must be true, false, 1 or 0';
  return z
    .enum(['true', 'false', '1', '0'], { error: problemOr(problem) })
    .transform((value) => value === 'true' || value === '1');
}
