import { z } from 'zod';
import { envBoolean, envInt, envString } from './env.fields';
import { baseEnvSchema } from './env.schema';
import { EnvValidationError, validateEnv } from './env.validation';

function errorOf(run: () => unknown): EnvValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof EnvValidationError) return error;
    throw error;
  }
  throw new Error('expected an EnvValidationError');
}

describe('validateEnv', () => {
  it('throws one error that lists every bad variable, in a readable message', () => {
    const error = errorOf(() =>
      validateEnv(baseEnvSchema, { env: { PORT: 'abc', LOG_LEVEL: 'loud', SHUTDOWN_TIMEOUT_MS: '1e3' } }),
    );
    expect(error.message).toBe(
      [
        'Invalid environment configuration (3 problems):',
        '  PORT: must be an integer between 1 and 65535 (got "abc")',
        '  LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
        '  SHUTDOWN_TIMEOUT_MS: must be an integer between 1 and 3600000 (got "1e3")',
      ].join('\n'),
    );
    expect(error.problems.map((p) => p.variable)).toEqual(['PORT', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS']);
  });

  it('says "1 problem" for one', () => {
    expect(errorOf(() => validateEnv(baseEnvSchema, { env: {} })).message).toBe(
      'Invalid environment configuration (1 problem):\n  PORT: is required',
    );
  });

  it('uses a default only where the variable is unset or empty', () => {
    expect(validateEnv(baseEnvSchema, { env: {}, defaults: { PORT: 3001 } }).PORT).toBe(3001);
    expect(validateEnv(baseEnvSchema, { env: { PORT: '' }, defaults: { PORT: 3001 } }).PORT).toBe(3001);
    expect(validateEnv(baseEnvSchema, { env: { PORT: '4000' }, defaults: { PORT: 3001 } }).PORT).toBe(4000);
    // An empty value is unset, so the schema's own default applies too.
    expect(validateEnv(baseEnvSchema, { env: { PORT: '1', LOG_LEVEL: '' } }).LOG_LEVEL).toBe('info');
  });

  it('reads process.env when no env is given', () => {
    const saved = process.env['PORT'];
    process.env['PORT'] = '4321';
    try {
      expect(validateEnv(baseEnvSchema).PORT).toBe(4321);
    } finally {
      if (saved === undefined) delete process.env['PORT'];
      else process.env['PORT'] = saved;
    }
  });

  it('never echoes a secret, nor the password of a URL', () => {
    const schema = z.object({
      JWT_SECRET: envString(/^.{32,}$/, 'must be at least 32 characters'),
      REDIS_URL: baseEnvSchema.shape.REDIS_URL,
    });
    const error = errorOf(() =>
      validateEnv(schema, { env: { JWT_SECRET: 'hunter2', REDIS_URL: 'http://user:hunter2@host' } }),
    );
    expect(error.message).not.toContain('hunter2');
    expect(error.problems).toEqual([
      { variable: 'JWT_SECRET', problem: 'must be at least 32 characters (got a value of 7 characters)' },
      { variable: 'REDIS_URL', problem: 'must be a URL starting with redis:// or rediss:// (got "http://***@host")' },
    ]);
  });
});

describe('env fields', () => {
  const schema = z.object({ FLAG: envBoolean().default(false), N: envInt(0, 10).default(0) });

  it('parses booleans strictly', () => {
    expect(validateEnv(schema, { env: { FLAG: 'true' } }).FLAG).toBe(true);
    expect(validateEnv(schema, { env: { FLAG: '0' } }).FLAG).toBe(false);
    expect(validateEnv(schema, { env: {} }).FLAG).toBe(false);
    expect(errorOf(() => validateEnv(schema, { env: { FLAG: 'yes' } })).problems).toEqual([
      { variable: 'FLAG', problem: 'must be true, false, 1 or 0 (got "yes")' },
    ]);
  });

  it('allows 0 where the range starts at 0', () => {
    expect(validateEnv(schema, { env: { N: '0' } }).N).toBe(0);
    expect(validateEnv(schema, { env: { N: '010' } }).N).toBe(10);
  });
});
