// Test helpers only (`@worker-pattern/platform/testing`): never imported by app code.
export * from './lib/testing/hostile-input.arbitraries';
export * from './lib/testing/memory-log.stream';
