export * from './lib/fragment-http';
export * from './lib/page-definition';
export * from './lib/pages.module';
export * from './lib/request-query';
export * from './lib/fragment.openapi';
export * from './lib/gateway-env.schema';
export * from './lib/viewer-stream-slots';
