import { BadRequestException } from '@nestjs/common';
import { openApiSchemaOf } from '@worker-pattern/platform';
import { writeEventSchema } from '@worker-pattern/write-events';
import { followBody, parseFollowBody, parseIdParam, parsePostBody, postBody } from './write-input';

const message = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (error instanceof BadRequestException) return error.message;
    throw error;
  }
  throw new Error('expected a 400');
};

describe('write input', () => {
  it('trims a post body and bounds it to 1..5000 characters', () => {
    expect(parsePostBody({ body: '  hi  ' })).toBe('hi');
    expect(parsePostBody({ body: 'x'.repeat(5000) })).toHaveLength(5000);
    expect(message(() => parsePostBody({ body: ' \n ' }))).toBe('body must not be empty');
    expect(message(() => parsePostBody({ body: 'x'.repeat(5001) }))).toBe('body must be at most 5000 characters');
    expect(message(() => parsePostBody({ body: ['x'] }))).toBe('body must be a string');
    expect(message(() => parsePostBody('text'))).toMatch(/JSON object/);
    expect(message(() => parsePostBody({ body: 'x', extra: 1 }))).toBe('unknown field "extra"');
  });

  it('refuses a NUL character, which Postgres text cannot store (found by fuzzing: it was a 500)', () => {
    expect(message(() => parsePostBody({ body: 'a\u0000b' }))).toBe('body must not contain NUL (\\u0000) characters');
    expect(parsePostBody({ body: 'a\u0001b 😀 \ud800' })).toBe('a\u0001b 😀 \ud800');
  });

  it('takes a follow target as a JSON number only', () => {
    expect(parseFollowBody({ userId: 7 })).toBe(7);
    expect(message(() => parseFollowBody({ userId: '7' }))).toBe('userId must be a number');
    expect(message(() => parseFollowBody({ userId: 1.5 }))).toBe('userId must be an integer');
    expect(message(() => parseFollowBody({ userId: 0 }))).toBe('userId must be at least 1');
  });

  it.each(['0', '-1', '1.0', '01', 'abc', '2147483648', ''])('refuses the path id %j, naming the parameter', (raw) => {
    expect(message(() => parseIdParam('userId', raw))).toMatch(/^invalid parameter "userId"/);
  });

  it('reads only the events it knows', () => {
    expect(writeEventSchema.safeParse({ type: 'post.created', authorId: 1, postId: '9' }).success).toBe(true);
    expect(writeEventSchema.safeParse({ type: 'post.deleted', authorId: 1 }).success).toBe(false);
    expect(writeEventSchema.safeParse({ type: 'like.created', userId: 1 }).success).toBe(false);
  });

  it('documents each body with the schema that validates it (OpenAPI, generated)', () => {
    expect(openApiSchemaOf(postBody, 'input')).toEqual({
      type: 'object',
      properties: {
        body: { type: 'string', minLength: 1, maxLength: 5000, description: 'Trimmed; 1 to 5,000 characters' },
      },
      required: ['body'],
      additionalProperties: false,
    });
    expect(openApiSchemaOf(followBody, 'input')).toEqual({
      type: 'object',
      properties: { userId: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } },
      required: ['userId'],
      additionalProperties: false,
    });
  });
});
