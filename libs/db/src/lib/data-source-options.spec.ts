import { isDatabaseConnectionError } from './lazy-data-source';
import { createDataSourceOptions, dbOptionsFromEnv, resolveDbConnectionOptions } from './data-source-options';
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

  it('passes pool size and application name to pg, and no other start-up parameter', () => {
    const options = createDataSourceOptions({
      url,
      poolSize: 3,
      statementTimeoutMs: 1500,
      applicationName: 'feed-worker',
    });
    // PgBouncer in transaction mode refuses statement_timeout (or options) in the start-up packet.
    expect(options.extra).toEqual({ max: 3, application_name: 'feed-worker' });
  });

  it('has sensible defaults', () => {
    expect(createDataSourceOptions({ url }).extra).toEqual({ max: 10, application_name: 'worker-pattern' });
    expect(resolveDbConnectionOptions({ url })).toEqual({
      url,
      poolSize: 10,
      statementTimeoutMs: 15_000,
      applicationName: 'worker-pattern',
      replicaUrls: [],
      replicaMaxLagMs: 2_000,
      replicaWaitMs: 500,
      listenUrl: url,
    });
  });

  it('keeps LISTEN on DATABASE_URL unless a listen URL is given', () => {
    const direct = 'postgres://postgres@db:5432/example';
    expect(resolveDbConnectionOptions({ url, listenUrl: direct }).listenUrl).toBe(direct);
  });

  it.each([
    [{ replicaMaxLagMs: 0 }, /replicaMaxLagMs/],
    [{ replicaWaitMs: -1 }, /replicaWaitMs/],
    [{ replicaWaitMs: 1.5 }, /replicaWaitMs/],
  ])('rejects %p', (bad, message) => {
    expect(() => resolveDbConnectionOptions({ url, ...bad })).toThrow(message);
  });

  it.each([0, -1, 1.5])('rejects pool size %p', (poolSize) => {
    expect(() => createDataSourceOptions({ url, poolSize })).toThrow(/poolSize/);
  });

  it('rejects a negative statement timeout', () => {
    expect(() => createDataSourceOptions({ url, statementTimeoutMs: -5 })).toThrow(/statementTimeoutMs/);
  });
});

describe('dbOptionsFromEnv', () => {
  const env = {
    DATABASE_URL: 'postgres://pgbouncer:6432/wp',
    DATABASE_POOL_SIZE: 12,
    DATABASE_STATEMENT_TIMEOUT_MS: 15_000,
  };

  it('reads the replicas and the LISTEN URL of a worker', () => {
    expect(
      dbOptionsFromEnv(
        {
          ...env,
          DATABASE_REPLICA_URLS: ['postgres://r1/wp', 'postgres://r2/wp'],
          DATABASE_REPLICA_MAX_LAG_MS: 1000,
          DATABASE_REPLICA_WAIT_MS: 250,
          DATABASE_LISTEN_URL: 'postgres://primary:5432/wp',
        },
        'feed-worker',
      ),
    ).toEqual({
      url: env.DATABASE_URL,
      poolSize: 12,
      statementTimeoutMs: 15_000,
      applicationName: 'feed-worker',
      replicaUrls: ['postgres://r1/wp', 'postgres://r2/wp'],
      replicaMaxLagMs: 1000,
      replicaWaitMs: 250,
      listenUrl: 'postgres://primary:5432/wp',
    });
  });

  it('leaves what the environment leaves unset to this lib’s defaults, the ones every caller gets', () => {
    const unset = { DATABASE_URL: env.DATABASE_URL, DATABASE_REPLICA_URLS: [] };
    expect(resolveDbConnectionOptions(dbOptionsFromEnv(unset, 'feed-worker'))).toEqual(
      resolveDbConnectionOptions({ url: env.DATABASE_URL, applicationName: 'feed-worker', replicaUrls: [] }),
    );
  });

  it('reads only the primary for an app without replica settings (the gateway)', () => {
    expect(dbOptionsFromEnv(env, 'gateway')).toEqual({
      url: env.DATABASE_URL,
      poolSize: 12,
      statementTimeoutMs: 15_000,
      applicationName: 'gateway',
    });
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
