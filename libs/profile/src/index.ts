// The contract: what the gateway and the workers share. The builder is `@worker-pattern/profile/builder`.
export * from './lib/profile.fragment';
export * from './lib/profile.invalidation';
