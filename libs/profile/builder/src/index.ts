// Worker side only: the builder (its SQL). The gateway imports the contract, `@worker-pattern/profile`.
export * from './lib/profile.builder';
