export * from './lib/testing/redis-test-prefix';
