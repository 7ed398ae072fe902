// The contract: what the gateway and the workers share. The builder is `@worker-pattern/recommendations/builder`.
export * from './lib/recommendations.fragment';
export * from './lib/recommendations.invalidation';
