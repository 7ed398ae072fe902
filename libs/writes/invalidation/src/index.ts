// The invalidation worker's side only: the outbox relay, the invalidations queue's jobs and the
// fan-out (its SQL). The gateway imports the write API, `@worker-pattern/writes`.
export * from './lib/follower-pages';
export * from './lib/invalidation-fanout';
export * from './lib/invalidation-jobs';
export * from './lib/invalidation-worker.module';
export * from './lib/invalidation.consumer';
export * from './lib/outbox-relay';
