export * from './lib/invalidation-fanout';
export * from './lib/invalidation-worker.module';
export * from './lib/invalidation.consumer';
export * from './lib/outbox-relay';
export * from './lib/social-writes';
export * from './lib/write-events';
export * from './lib/write-input';
export * from './lib/writes.module';
