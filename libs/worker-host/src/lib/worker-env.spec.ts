import { DB_WORKER_ENV_KEYS, dbOptionsFromEnv, resolveDbConnectionOptions } from '@worker-pattern/db';
import { DEFAULT_FEED_FANOUT, FEED_FANOUT_ENV_KEYS, feedFanoutOptionsFromEnv } from '@worker-pattern/feed';
import { EnvValidationError, validateEnv } from '@worker-pattern/platform';
import { workerEnv, workerEnvDefaults } from './worker-env';

describe('a worker’s environment', () => {
  const start = (env: Record<string, string>, defaultConcurrency = 16) =>
    validateEnv(workerEnv, { env, defaults: { PORT: 3002, ...workerEnvDefaults(defaultConcurrency) } });

  it('gives a busy worker a pool that covers its concurrency, and a quiet one the usual 10', () => {
    expect(start({})).toMatchObject({ WORKER_CONCURRENCY: 16, DATABASE_POOL_SIZE: 16, DATABASE_REPLICA_URLS: [] });
    expect(start({}, 4)).toMatchObject({ WORKER_CONCURRENCY: 4, DATABASE_POOL_SIZE: 10 });
  });

  it('runs with the defaults the data layer and the feed state, when the variables are unset', () => {
    const env = start({}, 4);
    const pick = <K extends keyof typeof env>(keys: readonly K[]) =>
      Object.fromEntries(keys.map((k) => [k, env[k]])) as Pick<typeof env, K>;
    expect(feedFanoutOptionsFromEnv(pick(FEED_FANOUT_ENV_KEYS))).toEqual(DEFAULT_FEED_FANOUT);
    expect(resolveDbConnectionOptions(dbOptionsFromEnv(pick(DB_WORKER_ENV_KEYS), 'w'))).toMatchObject({
      poolSize: 10,
      statementTimeoutMs: 15_000,
      replicaMaxLagMs: 2_000,
      replicaWaitMs: 500,
    });
  });

  it('refuses to start with more builds at once than pool connections', () => {
    expect(() => start({ WORKER_CONCURRENCY: '32' })).toThrow(EnvValidationError);
    expect(() => start({ DATABASE_POOL_SIZE: '8' })).toThrow(
      /WORKER_CONCURRENCY: must not exceed DATABASE_POOL_SIZE \(8\)/,
    );
    expect(start({ WORKER_CONCURRENCY: '32', DATABASE_POOL_SIZE: '32' }).WORKER_CONCURRENCY).toBe(32);
  });

  it('reads the replicas and the LISTEN URL', () => {
    expect(
      start({ DATABASE_REPLICA_URLS: 'postgres://r1/wp,postgres://r2/wp', DATABASE_LISTEN_URL: 'postgres://p/wp' }),
    ).toMatchObject({
      DATABASE_REPLICA_URLS: ['postgres://r1/wp', 'postgres://r2/wp'],
      DATABASE_LISTEN_URL: 'postgres://p/wp',
    });
  });
});
