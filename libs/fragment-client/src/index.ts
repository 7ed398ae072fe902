export * from './lib/fragment-feed';
export * from './lib/fragment-types';
export * from './lib/fragment-views';
export * from './lib/retry-delay';
