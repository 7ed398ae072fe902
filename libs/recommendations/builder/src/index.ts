// Worker side only: the builder (its SQL). The gateway imports the contract, `@worker-pattern/recommendations`.
export * from './lib/recommendations.builder';
