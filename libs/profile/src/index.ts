export * from './lib/profile.fragment';
export * from './lib/profile.builder';
