export * from './lib/testing/redis-test-prefix';
export * from './lib/testing/local-redis-cluster';
export * from './lib/testing/local-redis-sentinel';
