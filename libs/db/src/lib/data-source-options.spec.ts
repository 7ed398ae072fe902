import { isDatabaseConnectionError } from './lazy-data-source';
import { createDataSourceOptions } from './data-source-options';
import { DB_ENTITIES } from './entities/db-entities';
import { DB_MIGRATIONS } from './migrations/db-migrations';

describe('createDataSourceOptions', () => {
  const url = 'postgres://postgres@127.0.0.1:5432/example';

  it('never synchronizes and lists entities and migrations explicitly', () => {
    const options = createDataSourceOptions({ url });
    expect(options).toMatchObject({ type: 'postgres', url, synchronize: false, migrationsRun: false });
    expect(options.entities).toEqual([...DB_ENTITIES]);
    expect(options.migrations).toEqual([...DB_MIGRATIONS]);
    expect(options.entities).not.toContainEqual(expect.any(String));
  });

  it('passes pool size, statement timeout and application name to pg', () => {
    const options = createDataSourceOptions({
      url,
      poolSize: 3,
      statementTimeoutMs: 1500,
      applicationName: 'feed-worker',
    });
    expect(options.extra).toEqual({ max: 3, statement_timeout: 1500, application_name: 'feed-worker' });
  });

  it('has sensible defaults', () => {
    expect(createDataSourceOptions({ url }).extra).toEqual({
      max: 10,
      statement_timeout: 30_000,
      application_name: 'worker-pattern',
    });
  });

  it.each([0, -1, 1.5])('rejects pool size %p', (poolSize) => {
    expect(() => createDataSourceOptions({ url, poolSize })).toThrow(/poolSize/);
  });

  it('rejects a negative statement timeout', () => {
    expect(() => createDataSourceOptions({ url, statementTimeoutMs: -5 })).toThrow(/statementTimeoutMs/);
  });
});

describe('isDatabaseConnectionError', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it('recognises an unreachable or restarting server', () => {
    for (const error of [
      withCode('ECONNREFUSED'),
      withCode('08006'),
      withCode('57P01'),
      new Error('Connection terminated unexpectedly'),
    ]) {
      expect(isDatabaseConnectionError(error)).toBe(true);
    }
  });

  it('leaves query errors alone', () => {
    for (const error of [withCode('23503'), withCode('42P01'), new Error('syntax error')]) {
      expect(isDatabaseConnectionError(error)).toBe(false);
    }
  });
});
