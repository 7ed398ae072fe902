// The contract: what the gateway and the workers share. The builder is `@worker-pattern/feed/builder`.
export * from './lib/feed.fragment';
export * from './lib/feed-fanout';
export * from './lib/feed.invalidation';
