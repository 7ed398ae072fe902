// The gateway's side: the write API and its outbox rows. Relaying and fanning them out is the
// invalidation worker's, `@worker-pattern/writes/invalidation` (libs/writes/invalidation).
export * from './lib/social-writes';
export * from './lib/write-input';
export * from './lib/writes.module';
