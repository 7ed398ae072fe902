import { z } from 'zod';

const MAX_ID = 2_147_483_647;

/**
 * A database id as it may arrive: a JSON number, or a query-string digit run without sign, spaces,
 * exponent or leading zeros. Canonical form: a number in 1..2^31-1. `"007"`, `"1e3"`, `" 5"` are
 * rejected rather than normalised, so one id has exactly one spelling.
 */
export const idParam = z
  .union([z.number(), z.string().regex(/^[1-9][0-9]{0,9}$/, 'must be a positive integer without sign or leading zeros')])
  .transform((value) => Number(value))
  .pipe(z.number().int('must be an integer').min(1, 'must be at least 1').max(MAX_ID, `must be at most ${MAX_ID}`));
