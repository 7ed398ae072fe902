export * from './lib/recommendations.fragment';
export * from './lib/recommendations.builder';
