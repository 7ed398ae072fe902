// Built apps as child processes (`@worker-pattern/platform/processes`), for the e2e tests and the
// benchmarks: never imported by app code.
export * from './lib/processes/child-app';
