export * from './lib/auth-env.schema';
export * from './lib/auth-options';
export * from './lib/auth.module';
export * from './lib/dev-login.controller';
export * from './lib/stream-ticket.controller';
export * from './lib/viewer-id.decorator';
export * from './lib/viewer-tokens';
export * from './lib/viewer.guard';
