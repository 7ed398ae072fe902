import {
  baseEnvSchema,
  corsEnvSchema,
  databaseEnvSchema,
  databaseReplicaEnvSchema,
  fanoutEnvSchema,
  managementPortDiffers,
  poolCoversConcurrency,
  workerEnvSchema,
} from './env.schema';
import { EnvValidationError, validateEnv } from './env.validation';

const workerSchema = baseEnvSchema.extend(databaseEnvSchema.shape).extend(workerEnvSchema.shape);

function problemsOf(run: () => unknown): Record<string, string> {
  try {
    run();
  } catch (error) {
    if (error instanceof EnvValidationError)
      return Object.fromEntries(error.problems.map((p) => [p.variable, p.problem]));
    throw error;
  }
  throw new Error('expected an EnvValidationError');
}

describe('baseEnvSchema', () => {
  it('reads TRUSTED_PROXIES as address ranges, and refuses a host name with a message', () => {
    const env = validateEnv(baseEnvSchema, { env: { PORT: '1', TRUSTED_PROXIES: '10.0.0.0/8, ::1' } });
    expect(env.TRUSTED_PROXIES).toEqual([
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
    ]);
    expect(problemsOf(() => validateEnv(baseEnvSchema, { env: { PORT: '1', TRUSTED_PROXIES: 'ingress' } }))).toEqual({
      TRUSTED_PROXIES: expect.stringMatching(/^must be a comma-separated list of IP addresses or CIDR ranges/),
    });
  });

  it('fills every default and types the values', () => {
    expect(validateEnv(baseEnvSchema, { env: { PORT: '3000' } })).toEqual({
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      TRUSTED_PROXIES: [],
      PORT: 3000,
      LOG_LEVEL: 'info',
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: 'wp:',
      BULL_PREFIX: 'bull',
      SHUTDOWN_TIMEOUT_MS: 25_000,
    });
  });

  it('takes the values given', () => {
    const env = validateEnv(baseEnvSchema, {
      env: {
        NODE_ENV: 'production',
        HOST: '0.0.0.0',
        PORT: '65535',
        LOG_LEVEL: 'silent',
        REDIS_URL: 'rediss://:pw@redis.internal:6380/2',
        REDIS_KEY_PREFIX: 'app:',
        BULL_PREFIX: 'wp-bull',
        SHUTDOWN_TIMEOUT_MS: '5000',
      },
    });
    expect(env).toMatchObject({
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      PORT: 65535,
      LOG_LEVEL: 'silent',
      SHUTDOWN_TIMEOUT_MS: 5000,
    });
    expect(env.REDIS_URL).toBe('rediss://:pw@redis.internal:6380/2');
    expect(env.BULL_PREFIX).toBe('wp-bull');
  });

  it('drops variables the schema does not know', () => {
    expect(validateEnv(baseEnvSchema, { env: { PORT: '1', PATH: '/usr/bin' } })).not.toHaveProperty('PATH');
  });

  it.each(['abc', '12abc', '1e3', '0x10', '-1', '1.5', ' 80', '80 ', '0', '65536', '99999999999999999999'])(
    'rejects PORT=%j',
    (port) => {
      expect(problemsOf(() => validateEnv(baseEnvSchema, { env: { PORT: port } }))).toEqual({
        PORT: `must be an integer between 1 and 65535 (got ${JSON.stringify(port)})`,
      });
    },
  );

  it('reads MANAGEMENT_PORT, unset by default, and refuses it equal to PORT with a message', () => {
    const schema = baseEnvSchema.superRefine(managementPortDiffers);
    expect(validateEnv(schema, { env: { PORT: '3000' } }).MANAGEMENT_PORT).toBeUndefined();
    expect(validateEnv(schema, { env: { PORT: '3000', MANAGEMENT_PORT: '9464' } }).MANAGEMENT_PORT).toBe(9464);
    expect(problemsOf(() => validateEnv(schema, { env: { PORT: '3000', MANAGEMENT_PORT: '3000' } }))).toEqual({
      MANAGEMENT_PORT: expect.stringMatching(/^must differ from PORT \(3000\)/),
    });
    expect(problemsOf(() => validateEnv(schema, { env: { PORT: '3000', MANAGEMENT_PORT: '70000' } }))).toEqual({
      MANAGEMENT_PORT: 'must be an integer between 1 and 65535 (got "70000")',
    });
  });

  it('accepts the edges of a range', () => {
    expect(validateEnv(baseEnvSchema, { env: { PORT: '1' } }).PORT).toBe(1);
    expect(validateEnv(baseEnvSchema, { env: { PORT: '65535' } }).PORT).toBe(65535);
  });

  it('wants the Redis key prefix to end with ":"', () => {
    expect(problemsOf(() => validateEnv(baseEnvSchema, { env: { PORT: '1', REDIS_KEY_PREFIX: 'wp' } }))).toEqual({
      REDIS_KEY_PREFIX: 'must end with ":" and contain no spaces or braces (got "wp")',
    });
  });

  it('refuses braces in prefixes: the hash tag that picks a Cluster slot comes after them', () => {
    expect(
      problemsOf(() =>
        validateEnv(baseEnvSchema, { env: { PORT: '1', REDIS_KEY_PREFIX: '{wp}:', BULL_PREFIX: '{b}' } }),
      ),
    ).toEqual({
      REDIS_KEY_PREFIX: 'must end with ":" and contain no spaces or braces (got "{wp}:")',
      BULL_PREFIX: 'must be a non-empty string without spaces or braces (got "{b}")',
    });
  });

  it('parses Redis Cluster seed nodes and Sentinels as host:port lists', () => {
    const env = validateEnv(baseEnvSchema, {
      env: { PORT: '1', REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-0.redis:7001,[::1]:7002,10.0.0.1:7000' },
    });
    expect(env.REDIS_CLUSTER_NODES).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-0.redis', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    for (const bad of ['10.0.0.1', '10.0.0.1:0', 'redis://10.0.0.1:7000', 'a:1,b', ',']) {
      expect(problemsOf(() => validateEnv(baseEnvSchema, { env: { PORT: '1', REDIS_SENTINELS: bad } }))).toEqual({
        REDIS_SENTINELS: expect.stringMatching(/^must be a comma-separated list of host:port/),
      });
    }
  });

  it('checks enums and URL schemes', () => {
    expect(
      problemsOf(() =>
        validateEnv(baseEnvSchema, {
          env: { PORT: '1', NODE_ENV: 'prod', LOG_LEVEL: 'INFO', REDIS_URL: 'http://127.0.0.1:6379' },
        }),
      ),
    ).toEqual({
      NODE_ENV: 'must be one of development, test, production (got "prod")',
      LOG_LEVEL: 'must be one of fatal, error, warn, info, debug, trace, silent (got "INFO")',
      REDIS_URL: 'must be a URL starting with redis:// or rediss:// (got "http://127.0.0.1:6379")',
    });
  });

  it('has no PORT of its own: the app must give one', () => {
    expect(problemsOf(() => validateEnv(baseEnvSchema, { env: {} }))).toEqual({ PORT: 'is required' });
  });
});

describe('databaseEnvSchema and workerEnvSchema', () => {
  it('compose with the base schema and fill their defaults, leaving the data layer’s to it', () => {
    const env = validateEnv(workerSchema, { env: {}, defaults: { PORT: 3002, WORKER_CONCURRENCY: 4 } });
    expect(env).toMatchObject({
      PORT: 3002,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/worker_pattern',
      WORKER_CONCURRENCY: 4,
      BULL_LOCK_DURATION_MS: 30_000,
      BULL_STALLED_INTERVAL_MS: 15_000,
    });
    // Unset, libs/db's DEFAULT_POOL_SIZE and DEFAULT_STATEMENT_TIMEOUT_MS apply, stated there once.
    expect(env.DATABASE_POOL_SIZE).toBeUndefined();
    expect(env.DATABASE_STATEMENT_TIMEOUT_MS).toBeUndefined();
    const set = validateEnv(workerSchema, {
      env: { PORT: '1', WORKER_CONCURRENCY: '1', DATABASE_POOL_SIZE: '12', DATABASE_STATEMENT_TIMEOUT_MS: '0' },
    });
    expect(set).toMatchObject({ DATABASE_POOL_SIZE: 12, DATABASE_STATEMENT_TIMEOUT_MS: 0 });
  });

  it('bounds WORKER_CONCURRENCY to 1..256 and needs it set', () => {
    expect(problemsOf(() => validateEnv(workerSchema, { env: { PORT: '1', WORKER_CONCURRENCY: '257' } }))).toEqual({
      WORKER_CONCURRENCY: 'must be an integer between 1 and 256 (got "257")',
    });
    expect(problemsOf(() => validateEnv(workerSchema, { env: { PORT: '1' } }))).toEqual({
      WORKER_CONCURRENCY: 'is required',
    });
  });

  it('accepts postgres:// and postgresql:// only', () => {
    const env = { PORT: '1', WORKER_CONCURRENCY: '1' };
    expect(validateEnv(workerSchema, { env: { ...env, DATABASE_URL: 'postgresql://u@db:5432/x' } }).DATABASE_URL).toBe(
      'postgresql://u@db:5432/x',
    );
    expect(problemsOf(() => validateEnv(workerSchema, { env: { ...env, DATABASE_URL: 'mysql://db/x' } }))).toEqual({
      DATABASE_URL: 'must be a URL starting with postgres:// or postgresql:// (got "mysql://db/x")',
    });
  });
});

describe('fanoutEnvSchema', () => {
  const fanoutSchema = workerSchema.extend(fanoutEnvSchema.shape);
  const env = { PORT: '1', WORKER_CONCURRENCY: '1' };

  it('leaves unset values to libs/feed’s defaults, and reads set ones', () => {
    const unset = validateEnv(fanoutSchema, { env });
    expect([unset.FANOUT_PAGE_SIZE, unset.FANOUT_CELEBRITY_FOLLOWERS, unset.FANOUT_CELEBRITY_FEED_TTL_MS]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(validateEnv(fanoutSchema, { env: { ...env, FANOUT_PAGE_SIZE: '500' } }).FANOUT_PAGE_SIZE).toBe(500);
  });

  it('names each value out of range', () => {
    const bad = {
      ...env,
      FANOUT_PAGE_SIZE: '0',
      FANOUT_CELEBRITY_FOLLOWERS: '10k',
      FANOUT_CELEBRITY_FEED_TTL_MS: '50',
    };
    expect(problemsOf(() => validateEnv(fanoutSchema, { env: bad }))).toEqual({
      FANOUT_PAGE_SIZE: 'must be an integer between 1 and 100000 (got "0")',
      FANOUT_CELEBRITY_FOLLOWERS: 'must be an integer between 2 and 1000000000 (got "10k")',
      FANOUT_CELEBRITY_FEED_TTL_MS: 'must be an integer between 100 and 60000 (got "50")',
    });
  });
});

describe('databaseReplicaEnvSchema', () => {
  const replicaSchema = workerSchema.extend(databaseReplicaEnvSchema.shape);
  const env = { PORT: '1', WORKER_CONCURRENCY: '1' };

  it('reads the primary alone by default, leaving the lag and wait to libs/db', () => {
    const parsed = validateEnv(replicaSchema, { env });
    expect(parsed.DATABASE_REPLICA_URLS).toEqual([]);
    expect([parsed.DATABASE_REPLICA_MAX_LAG_MS, parsed.DATABASE_REPLICA_WAIT_MS, parsed.DATABASE_LISTEN_URL]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('takes a comma-separated list of replicas, spaces and repeats forgiven, and a direct LISTEN URL', () => {
    const parsed = validateEnv(replicaSchema, {
      env: {
        ...env,
        DATABASE_REPLICA_URLS: 'postgres://r1:5432/wp, postgresql://r2:6432/wp,,postgres://r1:5432/wp',
        DATABASE_LISTEN_URL: 'postgres://primary:5432/wp',
        DATABASE_REPLICA_MAX_LAG_MS: '750',
        DATABASE_REPLICA_WAIT_MS: '0',
      },
    });
    expect(parsed).toMatchObject({
      DATABASE_REPLICA_URLS: ['postgres://r1:5432/wp', 'postgresql://r2:6432/wp'],
      DATABASE_LISTEN_URL: 'postgres://primary:5432/wp',
      DATABASE_REPLICA_MAX_LAG_MS: 750,
      DATABASE_REPLICA_WAIT_MS: 0,
    });
  });

  it.each([
    [
      'DATABASE_REPLICA_URLS',
      'postgres://r1/wp,mysql://r2/wp',
      /comma-separated list of URLs starting with postgres:\/\//,
    ],
    ['DATABASE_REPLICA_URLS', ',', /comma-separated list/],
    ['DATABASE_REPLICA_MAX_LAG_MS', '0', /between 1 and 3600000/],
    ['DATABASE_REPLICA_WAIT_MS', '60001', /between 0 and 60000/],
    ['DATABASE_LISTEN_URL', 'redis://x', /postgres:\/\//],
  ])('rejects %s=%j with a message naming it', (variable, value, message) => {
    expect(problemsOf(() => validateEnv(replicaSchema, { env: { ...env, [variable]: value } }))[variable]).toMatch(
      message,
    );
  });
});

describe('poolCoversConcurrency', () => {
  // As a worker composes it (libs/worker-host): its pool is always set, by default to cover its concurrency.
  const pooled = workerSchema
    .extend({ DATABASE_POOL_SIZE: databaseEnvSchema.shape.DATABASE_POOL_SIZE.unwrap() })
    .superRefine(poolCoversConcurrency);

  it('refuses more builds at once than pool connections, saying what to change', () => {
    expect(
      problemsOf(() => validateEnv(pooled, { env: { PORT: '1', WORKER_CONCURRENCY: '16', DATABASE_POOL_SIZE: '10' } })),
    ).toEqual({
      WORKER_CONCURRENCY:
        'must not exceed DATABASE_POOL_SIZE (10): every build holds a database connection while it reads; ' +
        'raise DATABASE_POOL_SIZE to at least 16 or lower WORKER_CONCURRENCY (got "16")',
    });
  });

  it('accepts a pool as large as the concurrency or larger', () => {
    for (const pool of ['16', '40']) {
      expect(
        validateEnv(pooled, { env: { PORT: '1', WORKER_CONCURRENCY: '16', DATABASE_POOL_SIZE: pool } })
          .WORKER_CONCURRENCY,
      ).toBe(16);
    }
  });
});

describe('corsEnvSchema', () => {
  it('is closed (no origins) when CORS_ORIGINS is unset or empty', () => {
    expect(validateEnv(corsEnvSchema, { env: {} }).CORS_ORIGINS).toEqual([]);
    expect(validateEnv(corsEnvSchema, { env: { CORS_ORIGINS: '' } }).CORS_ORIGINS).toEqual([]);
  });

  it('takes a comma-separated list of origins, trimmed and de-duplicated', () => {
    expect(
      validateEnv(corsEnvSchema, {
        env: { CORS_ORIGINS: 'https://app.example.com, http://localhost:5173,https://app.example.com' },
      }).CORS_ORIGINS,
    ).toEqual(['https://app.example.com', 'http://localhost:5173']);
  });

  it.each([
    '*',
    'https://*.example.com',
    'https://app.example.com/',
    'https://app.example.com/path',
    'app.example.com',
    'ftp://files.example.com',
    'https://u:p@app.example.com',
    'https://App.example.com',
    ' , ',
  ])('refuses CORS_ORIGINS=%j', (value) => {
    expect(Object.keys(problemsOf(() => validateEnv(corsEnvSchema, { env: { CORS_ORIGINS: value } })))).toEqual([
      'CORS_ORIGINS',
    ]);
  });
});
