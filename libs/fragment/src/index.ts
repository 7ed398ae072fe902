export * from './lib/fragment-key';
