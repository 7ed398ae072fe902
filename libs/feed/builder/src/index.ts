// Worker side only: the builder (its SQL). The gateway imports the contract, `@worker-pattern/feed`.
export * from './lib/feed.builder';
