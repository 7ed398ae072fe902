import { z } from 'zod';

export const MAX_ID = 2_147_483_647;
const ID_MESSAGE = `must be a positive integer (1 to ${MAX_ID})`;
const DIGITS = /^[1-9][0-9]{0,15}$/;

/**
 * A database id as it may arrive: a JSON number, or a query-string run of digits without sign,
 * spaces, exponent or leading zeros. Canonical form: a number in 1..2^31-1. `"007"`, `"1e3"`, `" 5"`
 * are rejected rather than normalised, so one id has exactly one spelling.
 */
export const idParam = z.preprocess(
  (value) => (typeof value === 'string' && DIGITS.test(value) ? Number(value) : value),
  z.number({ error: ID_MESSAGE }).int(ID_MESSAGE).min(1, ID_MESSAGE).max(MAX_ID, ID_MESSAGE),
);
