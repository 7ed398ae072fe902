import { InitialSchema1764201600000 } from './initial-schema.migration';

/** Every migration, oldest first, listed explicitly (no globs: apps are bundled by webpack). */
export const DB_MIGRATIONS = [InitialSchema1764201600000] as const;
