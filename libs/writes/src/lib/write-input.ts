import { BadRequestException } from '@nestjs/common';
import { z } from 'zod';

export const MAX_POST_LENGTH = 5000;

/** A post's body: trimmed first (`trim` rewrites the value before the length checks run). */
export const postBody = z
  .object({
    body: z
      .string({ error: 'body must be a string' })
      .trim()
      .min(1, 'body must not be empty')
      .max(MAX_POST_LENGTH, `body must be at most ${MAX_POST_LENGTH} characters`)
      // Postgres text cannot hold U+0000: refused here as a 400, not failed there as a 500.
      .refine((text) => !text.includes('\u0000'), 'body must not contain NUL (\\u0000) characters')
      .describe('Trimmed; 1 to 5,000 characters'),
  })
  .strict();

export const followBody = z
  .object({
    userId: z
      .number({ error: 'userId must be a number' })
      .int('userId must be an integer')
      .min(1, 'userId must be at least 1')
      .max(2_147_483_647, 'userId is too large'),
  })
  .strict();

function parseBody<T>(schema: z.ZodType<T>, body: unknown, example: string): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadRequestException(`request body must be a JSON object like ${example}`);
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new BadRequestException(
    issue?.code === 'unrecognized_keys'
      ? `unknown field "${String(issue.keys[0]).slice(0, 64)}"`
      : (issue?.message ?? 'invalid body'),
  );
}

export const parsePostBody = (body: unknown): string => parseBody(postBody, body, '{"body": "…"}').body;
export const parseFollowBody = (body: unknown): number => parseBody(followBody, body, '{"userId": 2}').userId;

/** A path id: digits only, 1 to 2^31-1; anything else is a 400 naming the parameter. */
export function parseIdParam(name: string, raw: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(raw) || Number(raw) > 2_147_483_647) {
    throw new BadRequestException(`invalid parameter "${name}": must be a positive integer (1 to 2147483647)`);
  }
  return Number(raw);
}
