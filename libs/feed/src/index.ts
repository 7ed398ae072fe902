export * from './lib/feed.fragment';
export * from './lib/feed.builder';
export * from './lib/feed-fanout';
