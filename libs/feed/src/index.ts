export * from './lib/feed.fragment';
export * from './lib/feed.builder';
