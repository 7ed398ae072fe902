import { describeEndpoint, isRedisUnavailableError, redisTopologyFromEnv } from './redis-clients';

describe('isRedisUnavailableError', () => {
  it.each([
    'Connection is closed.',
    "Stream isn't writeable and enableOfflineQueue options is false",
    'connect ECONNREFUSED 127.0.0.1:6379',
    'read ECONNRESET',
    "READONLY You can't write against a read only replica.",
    'LOADING Redis is loading the dataset in memory',
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    "OOM command not allowed when used memory > 'maxmemory'.",
    'MOVED 3999 127.0.0.1:6381',
    'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no.',
    'Too many Cluster redirections. Last error: Error: MOVED 1 127.0.0.1:7000',
    "Cluster isn't ready and enableOfflineQueue options is false",
    'Failed to refresh slots cache.',
  ])('counts %j as Redis not serving right now (503)', (message) => {
    expect(isRedisUnavailableError(new Error(message))).toBe(true);
  });

  it('counts the client-side give-ups by their type', () => {
    for (const name of ['MaxRetriesPerRequestError', 'ClusterAllFailedError']) {
      const error = new Error('gave up');
      error.name = name;
      expect(isRedisUnavailableError(error)).toBe(true);
    }
  });

  it('does not hide bugs', () => {
    expect(isRedisUnavailableError(new TypeError("Cannot read properties of undefined (reading 'key')"))).toBe(false);
    expect(
      isRedisUnavailableError(
        new Error('ERR Error running script (call to f_1): user_script:1: attempt to compare nil'),
      ),
    ).toBe(false);
    expect(isRedisUnavailableError(new Error("CROSSSLOT Keys in request don't hash to the same slot"))).toBe(false);
    expect(isRedisUnavailableError('Connection is closed.')).toBe(false);
  });
});

describe('redisTopologyFromEnv', () => {
  const REDIS_URL = 'redis://:s3cret@ignored:6379/2';
  const nodes = [
    { host: '10.0.0.1', port: 7000 },
    { host: '10.0.0.2', port: 7001 },
  ];

  it('puts both roles on REDIS_URL by default, or splits them', () => {
    expect(redisTopologyFromEnv({ REDIS_URL })).toEqual({
      cache: { kind: 'single', url: REDIS_URL },
      queue: { kind: 'single', url: REDIS_URL },
    });
    const split = redisTopologyFromEnv({
      REDIS_URL,
      QUEUE_REDIS_URL: 'redis://q:6379',
      CACHE_REDIS_URL: 'redis://c:6379',
    });
    expect(split.queue).toEqual({ kind: 'single', url: 'redis://q:6379' });
    expect(split.cache).toEqual({ kind: 'single', url: 'redis://c:6379' });
  });

  it('runs every role on one Cluster, with credentials from REDIS_URL', () => {
    const topology = redisTopologyFromEnv({ REDIS_URL, REDIS_CLUSTER_NODES: nodes });
    expect(topology.cache).toBe(topology.queue);
    expect(topology.cache).toEqual({ kind: 'cluster', nodes, auth: { password: 's3cret', tls: false, db: 2 } });
    expect(describeEndpoint(topology.cache)).toBe('Redis Cluster 10.0.0.1:7000,10.0.0.2:7001');
  });

  it('runs every role on one Sentinel-managed master', () => {
    const topology = redisTopologyFromEnv({ REDIS_URL, REDIS_SENTINELS: nodes, REDIS_SENTINEL_NAME: 'mymaster' });
    expect(topology.cache).toMatchObject({ kind: 'sentinel', name: 'mymaster', sentinels: nodes });
  });

  it('refuses contradictions with one message naming them', () => {
    expect(() => redisTopologyFromEnv({ REDIS_URL, REDIS_CLUSTER_NODES: nodes, QUEUE_REDIS_URL: 'redis://q' })).toThrow(
      /REDIS_CLUSTER_NODES .* cannot be combined with QUEUE_REDIS_URL/,
    );
    expect(() => redisTopologyFromEnv({ REDIS_URL, REDIS_CLUSTER_NODES: nodes, REDIS_SENTINELS: nodes })).toThrow(
      /choose a Redis Cluster or Sentinel/,
    );
    expect(() => redisTopologyFromEnv({ REDIS_URL, REDIS_SENTINELS: nodes })).toThrow(
      /REDIS_SENTINEL_NAME go together/,
    );
  });

  it('never shows a password', () => {
    expect(describeEndpoint({ kind: 'single', url: REDIS_URL })).toBe('redis://***@ignored:6379/2');
  });
});
