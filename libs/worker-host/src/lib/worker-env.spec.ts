import { EnvValidationError, validateEnv } from '@worker-pattern/platform';
import { workerEnv, workerEnvDefaults } from './worker-env';

describe('a worker’s environment', () => {
  const start = (env: Record<string, string>, defaultConcurrency = 16) =>
    validateEnv(workerEnv, { env, defaults: { PORT: 3002, ...workerEnvDefaults(defaultConcurrency) } });

  it('gives a busy worker a pool that covers its concurrency, and a quiet one the usual 10', () => {
    expect(start({})).toMatchObject({ WORKER_CONCURRENCY: 16, DATABASE_POOL_SIZE: 16, DATABASE_REPLICA_URLS: [] });
    expect(start({}, 4)).toMatchObject({ WORKER_CONCURRENCY: 4, DATABASE_POOL_SIZE: 10 });
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
