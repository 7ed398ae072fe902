// The registries: every fragment the system serves (and, in apps.ts, every app it deploys).
export * from './lib/fragments';
export * from './lib/invalidation-plan';
export * from './lib/apps';
