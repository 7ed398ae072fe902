export * from './lib/worker-env';
export * from './lib/worker-host.module';
