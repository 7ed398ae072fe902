// The write events the outbox records, and the shape of each fragment's invalidation rules.
export * from './lib/invalidation-rules';
export * from './lib/write-events';
