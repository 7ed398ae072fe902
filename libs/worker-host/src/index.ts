export * from './lib/worker-host.module';
