export * from './lib/fragment-builder';
export * from './lib/fragment-definition';
export * from './lib/fragment-errors';
export * from './lib/fragment-params';
